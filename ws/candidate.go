package ws

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/sigbridge/sigbridge/gateway"
)

// setCandidate accepts the three forms of new-ice-candidate's candidate:
// the RTCIceCandidate.toJSON() object, a bare "candidate:..." string (with
// optional sibling sdpMid/sdpMLineIndex), and null (end of candidates).
func setCandidate(m *clientMessage, raw json.RawMessage) error {
	if isNull(raw) {
		m.Candidate.Null = true
		return nil
	}
	if s, ok := jsonString(raw); ok {
		m.Candidate.Line = s
		return nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return badType("candidate", "an object, a string or null")
	}
	return m.setCandidateObject(raw)
}

func (m *clientMessage) setCandidateObject(raw json.RawMessage) error {
	var buf [4]field
	fields, err := splitMember(buf[:0], raw)
	if err != nil {
		return err
	}
	if !hasField(fields, "candidate") {
		return errorf(ErrMalformed, "missing candidate.candidate")
	}
	c := &m.Candidate
	c.object = true
	for _, f := range fields {
		if err := c.set("candidate.", f, m.recent); err != nil {
			return err
		}
	}
	return nil
}

// set decodes one member of an RTCIceCandidateInit (prefix names it in
// errors: "candidate." inside the object, "" for siblings; recent is the
// message's).
func (c *candidateInit) set(prefix string, f field, recent *recentWords) error {
	switch f.key {
	case "candidate":
		s, ok := jsonString(f.raw)
		if !ok {
			return badType(prefix+"candidate", "a string")
		}
		c.Line = s
	case "sdpMid":
		return c.setMid(prefix, f.raw)
	case "sdpMLineIndex":
		return c.setMLine(prefix, f.raw)
	case "usernameFragment":
		return c.setUfrag(prefix, f.raw, recent)
	default:
		return errorf(ErrMalformed, "unknown field "+prefix+token(f.key))
	}
	return nil
}

func (c *candidateInit) setMid(prefix string, raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	if p := knownMid(raw); p != nil {
		c.Mid = p
		return nil
	}
	s, ok := jsonString(raw)
	if !ok || len(s) > maxMidLen {
		return badType(prefix+"sdpMid", "a string of at most 64 bytes or null")
	}
	c.Mid = &s
	return nil
}

// midWords are the sdpMid values browsers send (Chromium and Firefox
// number their m-lines, older ones name them): setMid points at one of
// them instead of a new string and its pointer per candidate. Nothing
// writes through a candidateInit's Mid.
var midWords = func() (w [gateway.MaxMediaSections + 3]string) {
	for i := range gateway.MaxMediaSections {
		w[i] = strconv.Itoa(i)
	}
	w[gateway.MaxMediaSections], w[gateway.MaxMediaSections+1], w[gateway.MaxMediaSections+2] = "audio", "video", "data"
	return w
}()

// knownMid returns the midWords entry raw (a JSON value) spells without
// escapes, or nil.
func knownMid(raw json.RawMessage) *string {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil
	}
	inner := raw[1 : len(raw)-1]
	for i := range midWords {
		if string(inner) == midWords[i] {
			return &midWords[i]
		}
	}
	return nil
}

// sharedMid is mid as a midWords string, or a copy of it.
func sharedMid(mid string) string {
	for _, w := range midWords {
		if w == mid {
			return w
		}
	}
	return strings.Clone(mid)
}

// mlineIndexes are the values of sdpMLineIndex, for setMLine to point at
// instead of a new int per candidate. Nothing writes through MLine.
var mlineIndexes = func() (n [gateway.MaxMediaSections]int) {
	for i := range n {
		n[i] = i
	}
	return n
}()

func (c *candidateInit) setMLine(prefix string, raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	n, ok := jsonInt(raw, 0, gateway.MaxMediaSections-1)
	if !ok {
		return badType(prefix+"sdpMLineIndex", "an integer from 0 to 31 or null")
	}
	c.MLine = &mlineIndexes[n] // jsonInt kept n in range
	return nil
}

func (c *candidateInit) setUfrag(prefix string, raw json.RawMessage, recent *recentWords) error {
	if isNull(raw) {
		return nil
	}
	s, ok := recent.word(raw)
	if !ok || len(s) > maxUfragLen {
		return badType(prefix+"usernameFragment", "a string or null")
	}
	c.Ufrag = s
	return nil
}

func setSiblingMid(m *clientMessage, raw json.RawMessage) error {
	return m.sibling(field{key: "sdpMid", raw: raw})
}

func setSiblingMLine(m *clientMessage, raw json.RawMessage) error {
	return m.sibling(field{key: "sdpMLineIndex", raw: raw})
}

func setSiblingUfrag(m *clientMessage, raw json.RawMessage) error {
	return m.sibling(field{key: "usernameFragment", raw: raw})
}

// sibling decodes sdpMid / sdpMLineIndex / usernameFragment given next to a
// string candidate (or on end-of-candidates).
func (m *clientMessage) sibling(f field) error {
	m.Candidate.siblings = true
	return m.Candidate.set("", f, m.recent)
}

// normalizeLine strips an "a=" prefix and checks a non-empty candidate line.
func normalizeLine(line string) (string, error) {
	line = strings.TrimPrefix(line, "a=")
	if line == "" {
		return "", nil
	}
	if len(line) > gateway.MaxSDPLineBytes || !strings.HasPrefix(line, "candidate:") {
		return "", errorf(ErrMalformed, "candidate must be a candidate: line")
	}
	if _, err := gateway.ParseCandidate(line); err != nil {
		return "", errorf(ErrMalformed, "candidate line does not parse")
	}
	return line, nil
}
