package gateway

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/internal/fastsdp"
)

// SDP limits (protocols.md §6.1).
const (
	MaxSDPBytes           = 64 << 10
	MaxSDPLineBytes       = 4 << 10
	MaxMediaSections      = 32
	MaxFormatsPerMedia    = 128
	MaxCandidatesPerMLine = 64
)

// ParseSDP parses and checks an SDP from a remote peer. It accepts LF or CRLF
// line ends and a session-level c= or b= after t= (common in SIP gear, refused
// by pion/sdp), and enforces the size limits. The result shares no memory
// with s: s may be a view of a buffer that is written again once ParseSDP
// returns (a received SIP body, a pooled or read buffer).
func ParseSDP(s string) (*sdp.SessionDescription, error) {
	return parseSDPWith(s, false, unmarshalSDP)
}

// ParseSDPString is ParseSDP for an s that is its caller's and never
// written again, for as long as the result is used: a string Go made (a
// conversion, a concatenation, a JSON decoder's), not an unsafe.String
// view of a buffer that is reused. Its result's strings may be substrings
// of s, which then stays in memory as long as they do: it saves ParseSDP's
// copy of the SDP (fastsdp.ParseOwned).
func ParseSDPString(s string) (*sdp.SessionDescription, error) {
	return parseSDPWith(s, true, unmarshalSDP)
}

// unmarshalFunc parses a normalised SDP; owned: s is the parser's to keep
// (fastsdp.ParseOwned), not only to read.
type unmarshalFunc func(s string, owned bool) (*sdp.SessionDescription, error)

// parseSDPWith is ParseSDP (owned: ParseSDPString) with unmarshal parsing
// the normalised text.
func parseSDPWith(s string, owned bool, unmarshal unmarshalFunc) (*sdp.SessionDescription, error) {
	if len(s) > MaxSDPBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrSDPLimit, len(s))
	}
	norm, rewritten, err := normalizeSDP(s)
	if err != nil {
		return nil, err
	}
	// A rewritten SDP is a new string, the parser's alone, whoever s is.
	sd, err := unmarshal(norm, owned || rewritten)
	if err != nil {
		return nil, err
	}
	if err := checkSDPLimits(sd); err != nil {
		return nil, err
	}
	return sd, nil
}

// unmarshalSDP parses a normalised SDP: with fastsdp, which makes of the
// SDPs browsers and SIP gear send what pion/sdp makes of them in a
// fraction of its time (two SDPs a call), else with pion, which decides
// what fastsdp does not know, errors included. fastsdp copies s unless it
// is owned; pion copies each field it keeps.
func unmarshalSDP(s string, owned bool) (*sdp.SessionDescription, error) {
	parse := fastsdp.Parse
	if owned {
		parse = fastsdp.ParseOwned
	}
	if sd, ok := parse(s); ok {
		return sd, nil
	}
	return unmarshalPion(s)
}

// unmarshalPion parses a normalised SDP with pion/sdp, which copies what
// it keeps: owned or not, s is only read.
func unmarshalPion(s string) (*sdp.SessionDescription, error) {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return sd, nil
}

// MarshalSDP renders sd as text with CRLF line ends.
func MarshalSDP(sd *sdp.SessionDescription) string {
	b, err := sd.Marshal()
	if err != nil || len(b) == 0 {
		return ""
	}
	// b is ours alone and never written again: the string shares its
	// memory instead of copying the whole SDP (what strings.Builder does).
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// normalizeSDP splits s into lines, checks line lengths and moves session-level
// c=/b= lines that follow t= to before it. An SDP that needs none of it
// (CRLF line ends, nothing to move: what browsers and most SIP gear send)
// is returned as is, without allocating; else rewritten is true, and the
// text returned is a new string (or a constant), shared with nothing.
func normalizeSDP(s string) (norm string, rewritten bool, err error) {
	ok, err := sdpNormal(s)
	if ok || err != nil {
		return s, false, err
	}
	norm, err = rewriteSDP(s)
	return norm, true, err
}

// sdpNormal checks the line lengths of s and reports whether s is already
// what rewriteSDP would make of it.
func sdpNormal(s string) (bool, error) {
	normal := strings.HasSuffix(s, "\r\n")
	inMedia, seenT := false, false
	for n := 0; s != ""; n++ {
		l, rest, found := strings.Cut(s, "\n")
		s = rest
		if found && strings.HasSuffix(l, "\r") {
			l = l[:len(l)-1]
		} else if found {
			normal = false // a bare LF
		}
		if len(l) > MaxSDPLineBytes {
			return false, fmt.Errorf("%w: line %d is %d bytes", ErrSDPLimit, n+1, len(l))
		}
		switch {
		case strings.HasPrefix(l, "m="):
			inMedia = true
		case inMedia:
		case strings.HasPrefix(l, "t="):
			seenT = true
		case seenT && (strings.HasPrefix(l, "c=") || strings.HasPrefix(l, "b=")):
			normal = false // to move
		}
	}
	return normal, nil
}

// rewriteSDP is normalizeSDP's slow path. Its result is a new string,
// never s or a part of it (strings.Join of one line returns that line,
// then made a new string by the concatenation with the last CRLF), or the
// constant "\r\n".
func rewriteSDP(s string) (string, error) {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var head, late, rest []string
	inMedia, seenT := false, false
	for n, l := range lines {
		if len(l) > MaxSDPLineBytes {
			return "", fmt.Errorf("%w: line %d is %d bytes", ErrSDPLimit, n+1, len(l))
		}
		switch {
		case strings.HasPrefix(l, "m="):
			inMedia = true
			rest = append(rest, l)
		case inMedia:
			rest = append(rest, l)
		case strings.HasPrefix(l, "t="):
			seenT = true
			rest = append(rest, l)
		case seenT && (strings.HasPrefix(l, "c=") || strings.HasPrefix(l, "b=")):
			late = append(late, l)
		case seenT:
			rest = append(rest, l)
		default:
			head = append(head, l)
		}
	}
	all := append(append(head, late...), rest...)
	return strings.Join(all, "\r\n") + "\r\n", nil
}

func checkSDPLimits(sd *sdp.SessionDescription) error {
	if n := len(sd.MediaDescriptions); n > MaxMediaSections {
		return fmt.Errorf("%w: %d m-lines", ErrSDPLimit, n)
	}
	for i, m := range sd.MediaDescriptions {
		if n := len(m.MediaName.Formats); n > MaxFormatsPerMedia {
			return fmt.Errorf("%w: m-line %d has %d formats", ErrSDPLimit, i, n)
		}
		if n := countAttr(m.Attributes, "candidate"); n > MaxCandidatesPerMLine {
			return fmt.Errorf("%w: m-line %d has %d candidates", ErrSDPLimit, i, n)
		}
	}
	return nil
}

func countAttr(attrs []sdp.Attribute, key string) int {
	n := 0
	for _, a := range attrs {
		if a.Key == key {
			n++
		}
	}
	return n
}

// cloneAttrRoom is the spare capacity of each cloned m-line's attributes:
// a trickling caller's candidates and end-of-candidates are appended to
// them (gatherer) without growing the slice again.
const cloneAttrRoom = fastsdp.AttrRoom

// CloneSDP returns a copy of sd whose media sections and attribute slices can
// be changed without touching sd. The copy takes a fixed number of
// allocations whatever the number of m-lines: the media sections, their
// attributes and their formats each share one backing array, cut with a
// capacity limit so that appending to one m-line's slice never writes into
// the next one's.
func CloneSDP(sd *sdp.SessionDescription) *sdp.SessionDescription {
	c := *sd
	c.Attributes = append([]sdp.Attribute(nil), sd.Attributes...)
	n := len(sd.MediaDescriptions)
	c.MediaDescriptions = make([]*sdp.MediaDescription, n)
	nAttrs, nFormats := 0, 0
	for _, m := range sd.MediaDescriptions {
		nAttrs += len(m.Attributes) + cloneAttrRoom
		nFormats += len(m.MediaName.Formats)
	}
	mds := make([]sdp.MediaDescription, n)
	attrs := make([]sdp.Attribute, 0, nAttrs)
	formats := make([]string, 0, nFormats)
	for i, m := range sd.MediaDescriptions {
		mds[i] = *m
		mc := &mds[i]
		a := len(attrs)
		attrs = append(attrs, m.Attributes...)
		mc.Attributes = attrs[a : len(attrs) : len(attrs)+cloneAttrRoom]
		attrs = attrs[:len(attrs)+cloneAttrRoom]
		f := len(formats)
		formats = append(formats, m.MediaName.Formats...)
		mc.MediaName.Formats = formats[f:len(formats):len(formats)]
		if len(m.MediaName.Formats) == 0 {
			mc.MediaName.Formats = nil // as append to nil made it
		}
		c.MediaDescriptions[i] = mc
	}
	return &c
}

// makeAttrRoom gives each m-line of sd room for cloneAttrRoom more
// attributes (the gatherer appends candidates and a=end-of-candidates),
// all in one backing array as CloneSDP does, unless each has room for one
// already (a CloneSDP copy, or what fastsdp parsed: AttrRoom). An SDP as
// pion/sdp parsed it has none: an
// append per m-line would each copy that m-line's attributes into an array
// twice their size.
func makeAttrRoom(sd *sdp.SessionDescription) {
	n, full := 0, false
	for _, m := range sd.MediaDescriptions {
		n += len(m.Attributes) + cloneAttrRoom
		full = full || cap(m.Attributes) == len(m.Attributes)
	}
	if !full {
		return
	}
	attrs := make([]sdp.Attribute, 0, n)
	for _, m := range sd.MediaDescriptions {
		a := len(attrs)
		attrs = append(attrs, m.Attributes...)
		m.Attributes = attrs[a : len(attrs) : len(attrs)+cloneAttrRoom]
		attrs = attrs[:len(attrs)+cloneAttrRoom]
	}
}

// MediaIndex returns the index of the m-line a candidate belongs to: the one
// whose a=mid equals mid, else mlineIndex when in range, else -1.
func MediaIndex(sd *sdp.SessionDescription, mid string, mlineIndex int) int {
	if mid != "" {
		for i, m := range sd.MediaDescriptions {
			if v, ok := m.Attribute("mid"); ok && v == mid {
				return i
			}
		}
	}
	if mlineIndex >= 0 && mlineIndex < len(sd.MediaDescriptions) {
		return mlineIndex
	}
	return -1
}

// MediaUfrag returns the ICE ufrag in force for m-line i (media level, else
// session level).
func MediaUfrag(sd *sdp.SessionDescription, i int) string {
	if v, ok := sd.MediaDescriptions[i].Attribute("ice-ufrag"); ok {
		return v
	}
	v, _ := sd.Attribute("ice-ufrag")
	return v
}

// HasEndOfCandidates reports whether every m-line that is not rejected (port
// 0) and not bundled away carries a=end-of-candidates, or the session does.
func HasEndOfCandidates(sd *sdp.SessionDescription) bool {
	if _, ok := sd.Attribute("end-of-candidates"); ok {
		return true
	}
	if len(sd.MediaDescriptions) == 0 {
		return false
	}
	for _, m := range sd.MediaDescriptions {
		if _, ok := m.Attribute("end-of-candidates"); !ok && m.MediaName.Port.Value != 0 {
			return false
		}
	}
	return true
}

// hasMDNS reports whether an m-line of sd has an mDNS (".local") candidate:
// whether FilterMDNS would change it.
func hasMDNS(sd *sdp.SessionDescription) bool {
	for _, m := range sd.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key == "candidate" && IsMDNSCandidate(a.Value) {
				return true
			}
		}
	}
	return false
}

// FilterMDNS removes mDNS (".local") candidates from every m-line of sd in
// place and returns how many it removed.
func FilterMDNS(sd *sdp.SessionDescription) int {
	removed := 0
	for _, m := range sd.MediaDescriptions {
		kept := m.Attributes[:0]
		for _, a := range m.Attributes {
			if a.Key == "candidate" && IsMDNSCandidate(a.Value) {
				removed++
				continue
			}
			kept = append(kept, a)
		}
		m.Attributes = kept
	}
	return removed
}

// StripTrickleOption removes "trickle" from a=ice-options at session and media
// level (toward peers that do not trickle), dropping empty attributes.
func StripTrickleOption(sd *sdp.SessionDescription) {
	sd.Attributes = stripTrickle(sd.Attributes)
	for _, m := range sd.MediaDescriptions {
		m.Attributes = stripTrickle(m.Attributes)
	}
}

func stripTrickle(attrs []sdp.Attribute) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if a.Key == "ice-options" {
			a.Value = removeOption(a.Value, "trickle")
			if a.Value == "" {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// removeOption returns the white-space separated options of v without w,
// joined by single spaces. It builds a string only when it must: v without
// w and already in that form is returned as is, and v that is w alone (the
// "trickle" browsers write) becomes "".
func removeOption(v, w string) string {
	has, other, joined, pos := false, false, true, 0
	for f := range strings.FieldsSeq(v) {
		if f == w {
			has = true
		} else {
			other = true
		}
		if pos > 0 {
			joined = joined && pos < len(v) && v[pos] == ' '
			pos++
		}
		joined = joined && strings.HasPrefix(v[min(pos, len(v)):], f)
		pos += len(f)
	}
	switch {
	case !has && joined && pos == len(v):
		return v
	case has && !other:
		return ""
	}
	var b strings.Builder
	for f := range strings.FieldsSeq(v) {
		if f == w {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	return b.String()
}
