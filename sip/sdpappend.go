package sip

import (
	"strconv"
	"sync"

	"github.com/pion/sdp/v3"
)

// appendSDP appends sd as pion's (*sdp.SessionDescription).Marshal writes
// it, byte for byte (pion/sdp v3.0.20, marshal.go), and returns the
// extended slice. pion's per-line writers are unexported and its Marshal
// allocates the whole SDP; this is for callers that only read the bytes
// (digestSDP) and bring their own buffer. sdpappend_test.go checks it
// against Marshal over the repository's SDP fixtures and FuzzAppendSDP.
func appendSDP(b []byte, sd *sdp.SessionDescription) []byte {
	b = strconv.AppendInt(append(b, "v="...), int64(sd.Version), 10)
	b = appendOrigin(append(b, "\r\no="...), sd.Origin)
	b = append(append(append(b, "\r\ns="...), sd.SessionName...), "\r\n"...)
	if sd.SessionInformation != nil {
		b = appendLine(b, "i=", string(*sd.SessionInformation))
	}
	if sd.URI != nil {
		b = appendLine(b, "u=", sd.URI.String()) // rare: the only allocation here
	}
	if sd.EmailAddress != nil {
		b = appendLine(b, "e=", string(*sd.EmailAddress))
	}
	if sd.PhoneNumber != nil {
		b = appendLine(b, "p=", string(*sd.PhoneNumber))
	}
	b = appendConnBandwidth(b, sd.ConnectionInformation, sd.Bandwidth)
	b = appendTimes(b, sd.TimeDescriptions, sd.TimeZones)
	if sd.EncryptionKey != nil {
		b = appendLine(b, "k=", string(*sd.EncryptionKey))
	}
	b = appendAttributes(b, sd.Attributes)
	for _, md := range sd.MediaDescriptions {
		b = appendMedia(b, md)
	}
	return b
}

// appendLine appends key, v and CRLF.
func appendLine(b []byte, key, v string) []byte {
	return append(append(append(b, key...), v...), "\r\n"...)
}

// appendOrigin appends the o= line's value.
func appendOrigin(b []byte, o sdp.Origin) []byte {
	b = append(append(b, o.Username...), ' ')
	b = append(strconv.AppendUint(b, o.SessionID, 10), ' ')
	b = append(strconv.AppendUint(b, o.SessionVersion, 10), ' ')
	b = append(append(b, o.NetworkType...), ' ')
	b = append(append(b, o.AddressType...), ' ')
	return append(b, o.UnicastAddress...)
}

// appendConnBandwidth appends a c= line (c may be nil) and the b= lines,
// as the session and each media section have them.
func appendConnBandwidth(b []byte, c *sdp.ConnectionInformation, bws []sdp.Bandwidth) []byte {
	if c != nil {
		b = append(append(append(b, "c="...), c.NetworkType...), ' ')
		b = append(b, c.AddressType...)
		if a := c.Address; a != nil {
			b = append(append(b, ' '), a.Address...)
			if a.TTL != nil {
				b = strconv.AppendInt(append(b, '/'), int64(*a.TTL), 10)
			}
			if a.Range != nil {
				b = strconv.AppendInt(append(b, '/'), int64(*a.Range), 10)
			}
		}
		b = append(b, "\r\n"...)
	}
	for _, bw := range bws {
		b = append(b, "b="...)
		if bw.Experimental {
			b = append(b, "X-"...)
		}
		b = append(append(b, bw.Type...), ':')
		b = append(strconv.AppendUint(b, bw.Bandwidth, 10), "\r\n"...)
	}
	return b
}

// appendTimes appends the t= and r= lines and the z= line.
func appendTimes(b []byte, tds []sdp.TimeDescription, zs []sdp.TimeZone) []byte {
	for _, td := range tds {
		b = append(strconv.AppendUint(append(b, "t="...), td.Timing.StartTime, 10), ' ')
		b = append(strconv.AppendUint(b, td.Timing.StopTime, 10), "\r\n"...)
		for _, r := range td.RepeatTimes {
			b = append(strconv.AppendInt(append(b, "r="...), r.Interval, 10), ' ')
			b = strconv.AppendInt(b, r.Duration, 10)
			for _, o := range r.Offsets {
				b = strconv.AppendInt(append(b, ' '), o, 10)
			}
			b = append(b, "\r\n"...)
		}
	}
	if len(zs) == 0 {
		return b
	}
	b = append(b, "z="...)
	for i, z := range zs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(strconv.AppendUint(b, z.AdjustmentTime, 10), ' ')
		b = strconv.AppendInt(b, z.Offset, 10)
	}
	return append(b, "\r\n"...)
}

// appendAttributes appends a= lines: the key, and ":value" unless the
// value is empty.
func appendAttributes(b []byte, attrs []sdp.Attribute) []byte {
	for _, a := range attrs {
		b = append(append(b, "a="...), a.Key...)
		if a.Value != "" {
			b = append(append(b, ':'), a.Value...)
		}
		b = append(b, "\r\n"...)
	}
	return b
}

// appendMedia appends a media section: m=, i=, c=, b=, k= and a= lines.
func appendMedia(b []byte, md *sdp.MediaDescription) []byte {
	m := md.MediaName
	b = append(append(append(b, "m="...), m.Media...), ' ')
	b = strconv.AppendInt(b, int64(m.Port.Value), 10)
	if m.Port.Range != nil {
		b = strconv.AppendInt(append(b, '/'), int64(*m.Port.Range), 10)
	}
	b = appendJoined(append(b, ' '), m.Protos, '/')
	b = append(appendJoined(append(b, ' '), m.Formats, ' '), "\r\n"...)
	if md.MediaTitle != nil {
		b = appendLine(b, "i=", string(*md.MediaTitle))
	}
	b = appendConnBandwidth(b, md.ConnectionInformation, md.Bandwidth)
	if md.EncryptionKey != nil {
		b = appendLine(b, "k=", string(*md.EncryptionKey))
	}
	return appendAttributes(b, md.Attributes)
}

// appendJoined appends list joined by sep.
func appendJoined(b []byte, list []string, sep byte) []byte {
	for i, s := range list {
		if i > 0 {
			b = append(b, sep)
		}
		b = append(b, s...)
	}
	return b
}

// sdpBufPool holds the buffers digestSDP renders SDPs into.
var sdpBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

// maxPooledSDPBuf is the largest buffer put back into sdpBufPool: an
// unusually large SDP's buffer is left to the collector.
const maxPooledSDPBuf = 64 << 10
