package sip

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
)

// errNoSDP is a message without an SDP body (offerless INVITE, 200 without
// answer).
var errNoSDP = errors.New("no SDP body")

// errUnsupportedBody is a body that is not application/sdp (415).
var errUnsupportedBody = errors.New("body is not application/sdp")

// errNoWebRTC is an SDP a browser or Jingle client cannot use: without ICE
// and DTLS-SRTP the call would need a media anchor, which sigbridge is not.
var errNoWebRTC = fmt.Errorf("%w: needs ICE and DTLS-SRTP (no media anchor)", gateway.ErrBadSDP)

// sdpBody returns the parsed SDP of a SIP message body. It returns errNoSDP
// for an empty body and errUnsupportedBody for another content type.
func sdpBody(m sip.Message) (*sdp.SessionDescription, error) {
	body := m.Body()
	if len(body) == 0 {
		return nil, errNoSDP
	}
	if ct := m.GetHeaders("Content-Type"); len(ct) > 0 && !isSDPType(ct[0].Value()) {
		return nil, errUnsupportedBody
	}
	// The parser copies every value it keeps (pion/sdp's lexer), and the
	// body is the message's own (sipgo's parsers allocate it per message;
	// nothing here writes to a received body): it is parsed in place
	// instead of copied into a string first.
	return gateway.ParseSDP(unsafe.String(unsafe.SliceData(body), len(body)))
}

func isSDPType(v string) bool {
	mt, _, _ := strings.Cut(v, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/sdp")
}

// checkWebRTC refuses SDPs without ICE credentials and a DTLS fingerprint on
// their live m-lines (protocols.md: classic RTP/AVP needs a media anchor).
func checkWebRTC(sd *sdp.SessionDescription) error {
	live := 0
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		live++
		if !hasAttr(sd, m, "ice-ufrag") || !hasAttr(sd, m, "ice-pwd") || !hasAttr(sd, m, "fingerprint") {
			return errNoWebRTC
		}
		if !secureProto(m.MediaName.Protos) {
			return errNoWebRTC
		}
	}
	if live == 0 {
		return fmt.Errorf("%w: no usable media stream", gateway.ErrBadSDP)
	}
	return nil
}

func hasAttr(sd *sdp.SessionDescription, m *sdp.MediaDescription, key string) bool {
	if _, ok := m.Attribute(key); ok {
		return true
	}
	_, ok := sd.Attribute(key)
	return ok
}

// secureProto reports whether the m-line's protocol ("UDP/TLS/RTP/SAVPF",
// "RTP/SAVP", "UDP/DTLS/SCTP"...) names SAVP or DTLS in any case. It looks
// at each part: neither name holds a "/", so none spans two parts, and
// ToUpper allocates nothing for a part already in upper case.
func secureProto(protos []string) bool {
	for _, p := range protos {
		p = strings.ToUpper(p)
		if strings.Contains(p, "SAVP") || strings.Contains(p, "DTLS") {
			return true
		}
	}
	return false
}

// sdpBytes renders sd for a SIP body.
func sdpBytes(sd *sdp.SessionDescription) []byte {
	b, err := sd.Marshal() // not gateway.MarshalSDP: its string would be copied back to bytes
	if err != nil {
		return nil
	}
	return b
}

func contentTypeSDP() sip.Header { return sip.NewHeader("Content-Type", "application/sdp") }
