package gateway

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ICECandidate is the parsed form of an a=candidate value (RFC 8839).
type ICECandidate struct {
	Foundation string
	Component  int
	Protocol   string
	Priority   uint32
	Address    string
	Port       int
	Type       string
	Ufrag      string // the "ufrag" extension, when present
}

// ParseCandidate parses "candidate:..." (an "a=" prefix is tolerated).
func ParseCandidate(line string) (ICECandidate, error) {
	line = strings.TrimPrefix(strings.TrimPrefix(line, "a="), "candidate:")
	var fields [24]string // a candidate line has 8 to about 20 fields: no allocation
	f := splitFields(fields[:0], line)
	if len(f) < 8 || f[6] != "typ" {
		return ICECandidate{}, fmt.Errorf("%w: candidate has %d fields", ErrBadSDP, len(f))
	}
	comp, err1 := strconv.Atoi(f[1])
	prio, err2 := strconv.ParseUint(f[3], 10, 32)
	port, err3 := strconv.Atoi(f[5])
	if err1 != nil || err2 != nil || err3 != nil || port < 0 || port > 65535 || comp < 1 || comp > 256 {
		return ICECandidate{}, fmt.Errorf("%w: bad candidate numbers", ErrBadSDP)
	}
	c := ICECandidate{Foundation: f[0], Component: comp, Protocol: strings.ToLower(f[2]),
		Priority: uint32(prio), Address: f[4], Port: port, Type: f[7]}
	c.Ufrag = extension(f[8:], "ufrag")
	return c, nil
}

// splitFields appends the fields of s separated by white space to dst, as
// strings.Fields does (which allocates its result on every call; this runs
// for every trickled candidate).
func splitFields(dst []string, s string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(dst, strings.Fields(s)...) // Unicode white space: the general case
		}
	}
	start := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

func extension(kv []string, key string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == key {
			return kv[i+1]
		}
	}
	return ""
}

// IsMDNS reports whether the candidate's address is an mDNS name.
func (c ICECandidate) IsMDNS() bool { return strings.HasSuffix(strings.ToLower(c.Address), ".local") }

// IsMDNSCandidate reports whether a raw candidate line uses an mDNS address.
// A line that does not parse is not called mDNS.
func IsMDNSCandidate(line string) bool {
	c, err := ParseCandidate(line)
	return err == nil && c.IsMDNS()
}

// rank orders candidates for the default address of an m-line: relay, then
// srflx, then host; IPv4 before IPv6; UDP before TCP; mDNS never.
func (c ICECandidate) rank() int {
	addr, err := netip.ParseAddr(c.Address)
	if err != nil || c.Component != 1 {
		return -1
	}
	r := typeRank(c.Type)
	if addr.Unmap().Is4() {
		r += 20
	}
	if c.Protocol == "udp" {
		r += 10
	}
	return r
}

// typeRank is the part of rank that the candidate type gives.
func typeRank(typ string) int {
	switch typ {
	case "relay":
		return 300
	case "srflx":
		return 200
	case "prflx":
		return 150
	case "host":
		return 100
	}
	return 0
}
