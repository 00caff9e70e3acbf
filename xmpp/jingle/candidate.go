package jingle

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

// Candidate types accepted by XEP-0176 (and Dino).
const (
	CandidateHost  = "host"
	CandidateSrflx = "srflx"
	CandidatePrflx = "prflx"
	CandidateRelay = "relay"
)

// Candidate is an ICE candidate, both an XEP-0176 <candidate/> and an SDP
// a=candidate line (protocols.md §2.4).
//
// TCPType has no XEP-0176 form; it is written as a non-standard tcptype
// attribute (the XEP-0371 spelling), which XEP-0176 parsers ignore. Ufrag is
// the SDP "ufrag" extension and is never written to XML. Network is the
// XEP-0176 network attribute and has no SDP form.
type Candidate struct {
	ID         string
	Foundation string
	Component  uint16
	Protocol   string // lower case: "udp" or "tcp"
	Priority   uint32
	IP         string // an IP address or an mDNS name
	Port       uint16
	Type       string // host, srflx, prflx or relay
	RelAddr    string
	RelPort    uint16 // written whenever RelAddr is set
	TCPType    string // active, passive or so
	Generation uint32
	Network    uint32
	Ufrag      string
}

// IsMDNS reports whether the address is an mDNS ".local" name.
func (c *Candidate) IsMDNS() bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSuffix(c.IP, ".")), ".local")
}

// CandidateFromSDP parses "candidate:..." with or without a leading "a=".
// Unknown extensions (network-id, network-cost, ...) are dropped; the id is
// generated (letter first, stable for the same candidate).
func CandidateFromSDP(line string) (Candidate, error) {
	var c Candidate
	s := strings.TrimRight(strings.TrimPrefix(line, "a="), "\r\n")
	rest, ok := strings.CutPrefix(s, "candidate:")
	if !ok {
		return c, fmt.Errorf("%w: %q: missing \"candidate:\"", ErrBadCandidate, clip(line))
	}
	f := strings.Fields(rest)
	if len(f) < 8 || f[6] != "typ" {
		return c, fmt.Errorf("%w: %q: want \"F C proto prio addr port typ T\"", ErrBadCandidate, clip(line))
	}
	if err := c.parseFields(f); err != nil {
		return Candidate{}, fmt.Errorf("%w: %q: %w", ErrBadCandidate, clip(line), err)
	}
	c.ID = c.generateID()
	return c, nil
}

func (c *Candidate) parseFields(f []string) error {
	c.Foundation, c.Protocol, c.IP, c.Type = f[0], strings.ToLower(f[2]), f[4], f[7]
	var err error
	if c.Component, err = parseUint16(f[1], "component"); err != nil {
		return err
	}
	if c.Priority, err = parseUint32(f[3], "priority"); err != nil {
		return err
	}
	if c.Port, err = parseUint16(f[5], "port"); err != nil {
		return err
	}
	if err := c.parseExtensions(f[8:]); err != nil {
		return err
	}
	return c.Validate()
}

func (c *Candidate) parseExtensions(f []string) error {
	if len(f)%2 != 0 {
		return fmt.Errorf("extension %q has no value", f[len(f)-1])
	}
	var err error
	for i := 0; i < len(f) && err == nil; i += 2 {
		err = c.setExtension(f[i], f[i+1])
	}
	return err
}

func (c *Candidate) setExtension(k, v string) (err error) {
	switch k {
	case "raddr":
		c.RelAddr = v
	case "rport":
		c.RelPort, err = parseUint16(v, "rport")
	case "tcptype":
		c.TCPType = v
	case "generation":
		c.Generation, err = parseUint32(v, "generation")
	case "ufrag":
		c.Ufrag = v
	}
	return err
}

// Validate checks the fields that XEP-0176 constrains.
func (c *Candidate) Validate() error {
	switch {
	case !isFoundation(c.Foundation):
		return fmt.Errorf("bad foundation %q", clip(c.Foundation))
	case c.Component == 0 || c.Component > 256:
		return fmt.Errorf("bad component %d", c.Component)
	case c.Protocol != "udp" && c.Protocol != "tcp":
		return fmt.Errorf("bad protocol %q", clip(c.Protocol))
	case !isAddress(c.IP):
		return fmt.Errorf("bad address %q", clip(c.IP))
	case c.RelAddr != "" && !isAddress(c.RelAddr):
		return fmt.Errorf("bad raddr %q", clip(c.RelAddr))
	case !isToken(c.TCPType, 32) && c.TCPType != "":
		return fmt.Errorf("bad tcptype %q", clip(c.TCPType))
	case c.Ufrag != "" && !isToken(c.Ufrag, 256):
		return fmt.Errorf("bad ufrag %q", clip(c.Ufrag))
	}
	switch c.Type {
	case CandidateHost, CandidateSrflx, CandidatePrflx, CandidateRelay:
		return nil
	}
	return fmt.Errorf("bad type %q (want host, srflx, prflx or relay)", clip(c.Type))
}

// SDPLine writes the candidate without "a=" as
// "candidate:F C proto prio ip port typ T [raddr A rport P] [tcptype X]
// generation G ufrag U". An empty ufrag falls back to c.Ufrag; if both are
// empty the ufrag extension is left out.
func (c Candidate) SDPLine(ufrag string) string {
	var b strings.Builder
	b.Grow(128)
	b.WriteString("candidate:")
	b.WriteString(c.Foundation)
	writeSp(&b, strconv.FormatUint(uint64(c.Component), 10), c.Protocol,
		strconv.FormatUint(uint64(c.Priority), 10), c.IP,
		strconv.FormatUint(uint64(c.Port), 10), "typ", c.Type)
	if c.RelAddr != "" {
		writeSp(&b, "raddr", c.RelAddr, "rport", strconv.FormatUint(uint64(c.RelPort), 10))
	}
	if c.TCPType != "" {
		writeSp(&b, "tcptype", c.TCPType)
	}
	writeSp(&b, "generation", strconv.FormatUint(uint64(c.Generation), 10))
	if ufrag == "" {
		ufrag = c.Ufrag
	}
	if ufrag != "" {
		writeSp(&b, "ufrag", ufrag)
	}
	return b.String()
}

func writeSp(b *strings.Builder, parts ...string) {
	for _, p := range parts {
		b.WriteByte(' ')
		b.WriteString(p)
	}
}

// generateID returns a letter-first NCName derived from the candidate, so
// the same candidate always gets the same id.
func (c *Candidate) generateID() string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d|%s|%s|%d|%s", c.Foundation, c.Component, c.Protocol, c.IP, c.Port, c.Ufrag)
	return "c" + strconv.FormatUint(h.Sum64(), 36)
}

// candidateWire is the XML shape, with string attributes so that every
// number error names its attribute.
type candidateWire struct {
	Component  string `xml:"component,attr"`
	Foundation string `xml:"foundation,attr"`
	Generation string `xml:"generation,attr"`
	ID         string `xml:"id,attr"`
	IP         string `xml:"ip,attr"`
	Network    string `xml:"network,attr,omitempty"`
	Port       string `xml:"port,attr"`
	Priority   string `xml:"priority,attr"`
	Protocol   string `xml:"protocol,attr"`
	RelAddr    string `xml:"rel-addr,attr,omitempty"`
	RelPort    string `xml:"rel-port,attr,omitempty"`
	TCPType    string `xml:"tcptype,attr,omitempty"`
	Type       string `xml:"type,attr"`
}

// MarshalXML implements xml.Marshaler. A missing id is generated.
func (c Candidate) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	id := c.ID
	if id == "" {
		id = c.generateID()
	}
	w := candidateWire{
		Component: u64(uint64(c.Component)), Foundation: c.Foundation,
		Generation: u64(uint64(c.Generation)), ID: id, IP: c.IP,
		Port: u64(uint64(c.Port)), Priority: u64(uint64(c.Priority)),
		Protocol: c.Protocol, RelAddr: c.RelAddr, TCPType: c.TCPType, Type: c.Type,
	}
	if c.Network != 0 {
		w.Network = u64(uint64(c.Network))
	}
	if c.RelAddr != "" {
		w.RelPort = u64(uint64(c.RelPort))
	}
	start.Attr = nil
	return e.EncodeElement(w, start)
}

// UnmarshalXML implements xml.Unmarshaler and validates the candidate
// (an id may start with a digit; network is ignored if not a number).
func (c *Candidate) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var w candidateWire
	if err := d.DecodeElement(&w, &start); err != nil {
		return err
	}
	got, err := w.candidate()
	if err != nil {
		return fmt.Errorf("%w: <candidate id=%q>: %w", ErrBadCandidate, clip(w.ID), err)
	}
	*c = got
	return nil
}

func (w *candidateWire) candidate() (Candidate, error) {
	c := Candidate{
		ID: w.ID, Foundation: w.Foundation, Protocol: strings.ToLower(w.Protocol),
		IP: w.IP, Type: w.Type, RelAddr: w.RelAddr, TCPType: w.TCPType,
	}
	var err error
	if c.Component, err = parseUint16(w.Component, "component"); err != nil {
		return c, err
	}
	if c.Priority, err = parseUint32(w.Priority, "priority"); err != nil {
		return c, err
	}
	if c.Port, err = parseUint16(w.Port, "port"); err != nil {
		return c, err
	}
	if c.RelPort, err = parseOptUint16(w.RelPort, "rel-port"); err != nil {
		return c, err
	}
	if w.Generation != "" {
		if c.Generation, err = parseUint32(w.Generation, "generation"); err != nil {
			return c, err
		}
	}
	if n, err := strconv.ParseUint(w.Network, 10, 32); err == nil {
		c.Network = uint32(n)
	}
	return c, c.Validate()
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

func parseUint16(s, what string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad %s %q", what, clip(s))
	}
	return uint16(v), nil
}

func parseOptUint16(s, what string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	return parseUint16(s, what)
}

func parseUint32(s, what string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad %s %q", what, clip(s))
	}
	return uint32(v), nil
}

// isFoundation accepts 1-32 visible ASCII characters (RFC 8839 allows
// ice-chars; some servers use other alphanumerics).
func isFoundation(s string) bool { return isToken(s, maxFoundationSize) }

// isToken accepts 1..max visible ASCII characters without spaces or XML
// specials that could never be valid in these fields.
func isToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch <= ' ' || ch >= 0x7f || ch == '<' || ch == '>' || ch == '"' || ch == '&' {
			return false
		}
	}
	return true
}

// isAddress accepts an IP address or a host name (mDNS names included).
func isAddress(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch == '.' || ch == '-' || ch == '_' || ch >= '0' && ch <= '9' ||
			ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			return false
		}
	}
	return true
}

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
