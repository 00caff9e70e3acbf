package fastsdp

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// The values pion takes (IANA's registries as of RFC 4566 and others it
// names in unmarshal.go).
var (
	mediaTypes = []string{"audio", "video", "text", "application", "message"}
	protos     = []string{"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF", "TCP",
		"MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC"}
	bandwidthTypes = []string{"CT", "AS", "TIAS", "RS", "RR"}
)

// fields splits v at single spaces into exactly n fields (n < 0: any
// number), none empty. pion splits at runs of spaces and tabs; a value
// with those, or empty fields, is left to it.
func fields(v string, n int, buf []string) ([]string, bool) {
	if strings.IndexByte(v, '\t') >= 0 {
		return nil, false
	}
	f := buf[:0]
	for {
		i := strings.IndexByte(v, ' ')
		if i < 0 {
			break
		}
		f = append(f, v[:i])
		v = v[i+1:]
	}
	f = append(f, v)
	if n >= 0 && len(f) != n || slices.Contains(f, "") {
		return nil, false
	}
	return f, true
}

// number is pion's readUint64Field of a field of digits: it wraps around
// on overflow, as pion's does.
func number(f string) (uint64, bool) {
	var n uint64
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, f != ""
}

// origin parses o=<username> <sess-id> <sess-version> IN IP4|IP6 <address>.
func (p *parser) origin(v string) bool {
	var buf [6]string
	f, ok := fields(v, 6, buf[:])
	if !ok || f[3] != "IN" || f[4] != "IP4" && f[4] != "IP6" {
		return false
	}
	id, ok1 := number(f[1])
	ver, ok2 := number(f[2])
	p.sd.Origin = sdp.Origin{Username: f[0], SessionID: id, SessionVersion: ver,
		NetworkType: f[3], AddressType: f[4], UnicastAddress: f[5]}
	return ok1 && ok2
}

// connection parses c=IN IP4|IP6 <address>; pion keeps the address whole
// (a multicast TTL or range too). The result is the next element of the
// parser's arrays for them, not two allocations of its own.
func (p *parser) connection(v string) (*sdp.ConnectionInformation, bool) {
	var buf [3]string
	f, ok := fields(v, 3, buf[:])
	if !ok || f[0] != "IN" || f[1] != "IP4" && f[1] != "IP6" {
		return nil, false
	}
	p.conns = append(p.conns, connAddr{addr: sdp.Address{Address: f[2]}})
	c := &p.conns[len(p.conns)-1]
	c.ci = sdp.ConnectionInformation{NetworkType: f[0], AddressType: f[1], Address: &c.addr}
	return &c.ci, true
}

// bandwidth is pion's unmarshalBandwidth of b=<type>:<bandwidth>.
func bandwidth(v string) (sdp.Bandwidth, bool) {
	typ, num, ok := strings.Cut(v, ":")
	if !ok || strings.IndexByte(num, ':') >= 0 {
		return sdp.Bandwidth{}, false
	}
	exp := strings.HasPrefix(typ, "X-")
	if exp {
		typ = typ[len("X-"):]
	} else if !slices.Contains(bandwidthTypes, typ) {
		return sdp.Bandwidth{}, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return sdp.Bandwidth{Experimental: exp, Type: typ, Bandwidth: n}, err == nil
}

func (p *parser) sessionBandwidth(v string) bool {
	bw, ok := bandwidth(v)
	p.sd.Bandwidth = append(p.sd.Bandwidth, bw)
	return ok
}

// timing parses t=<start> <stop>.
func (p *parser) timing(v string) bool {
	var buf [2]string
	f, ok := fields(v, 2, buf[:])
	if !ok {
		return false
	}
	start, ok1 := number(f[0])
	stop, ok2 := number(f[1])
	td := sdp.TimeDescription{Timing: sdp.Timing{StartTime: start, StopTime: stop}}
	if p.sd.TimeDescriptions == nil {
		p.res.td[0] = td
		p.sd.TimeDescriptions = p.res.td[:1:1] // as pion's append to nil makes it
	} else {
		p.sd.TimeDescriptions = append(p.sd.TimeDescriptions, td)
	}
	return ok1 && ok2
}

// attribute is pion's: key and value split at the first ':', unless the
// value starts with it (then all of it is the key).
func attribute(v string) sdp.Attribute {
	if i := strings.IndexByte(v, ':'); i > 0 {
		return sdp.Attribute{Key: v[:i], Value: v[i+1:]}
	}
	return sdp.Attribute{Key: v}
}

// media parses m=<media> <port> <proto> <fmt>... and starts its section.
// A port with a range (<port>/<count>) is left to pion.
func (p *parser) media(v string) bool {
	var buf [32]string
	f, ok := fields(v, -1, buf[:])
	if !ok || len(f) < 3 || !slices.Contains(mediaTypes, f[0]) {
		return false
	}
	port, ok := mediaPort(f[1])
	if !ok {
		return false
	}
	p.closeSection()
	// The protos and formats are cut from strs at once: an append that
	// moves strs (more than counted) leaves them their old array.
	i := len(p.strs)
	for proto := range strings.SplitSeq(f[2], "/") {
		if !slices.Contains(protos, proto) {
			return false
		}
		p.strs = append(p.strs, proto)
	}
	j := len(p.strs)
	p.strs = append(p.strs, f[3:]...)
	p.mds = append(p.mds, sdp.MediaDescription{MediaName: sdp.MediaName{Media: f[0],
		Port: sdp.RangedPort{Value: port}, Protos: cut(p.strs, i, j), Formats: cut(p.strs, j, len(p.strs))}})
	return true
}

// mediaPort parses a port of one to five digits up to 65535, which pion's
// strconv.Atoi takes the same way.
func mediaPort(f string) (int, bool) {
	n, ok := number(f)
	return int(n), ok && len(f) <= 5 && n <= 65535
}
