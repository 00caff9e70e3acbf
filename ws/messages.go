package ws

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/sigbridge/sigbridge/gateway"
)

// Message types of the dialect: the MDN "webrtc-from-chat" baseline, then
// the sigbridge extensions (protocols.md §1.3).
const (
	typeID              = "id"
	typeUsername        = "username"
	typeRejectUsername  = "rejectusername"
	typeUserlist        = "userlist"
	typeMessage         = "message"
	typeVideoOffer      = "video-offer"
	typeVideoAnswer     = "video-answer"
	typeNewICECandidate = "new-ice-candidate"
	typeHangUp          = "hang-up"
	typeDecline         = "decline"
	typeBusy            = "busy"
	typeRinging         = "ringing"
	typeEndOfCandidates = "end-of-candidates"
	typeError           = "error"
	typeICEServers      = "ice-servers"
	typeUserJoined      = "user-joined"
	typeUserLeft        = "user-left"
)

// Field limits.
const (
	maxChatBytes     = 8 << 10
	maxHangupText    = 256
	maxFeatures      = 16
	maxFeatureLen    = 32
	maxMidLen        = 64
	maxUfragLen      = 256
	maxUserNameBytes = 256
)

var (
	reasonRE  = regexp.MustCompile(`^[a-z][a-z-]{0,39}$`)
	featureRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
)

// clientMessage is one validated message from a browser. Which fields are
// set depends on Type; the sender's name is never read from it except as the
// wanted name of `username`.
type clientMessage struct {
	Type        string
	Name        string   // username: the wanted name
	Features    []string // username: extensions the client understands
	HasFeatures bool
	Text        string // message: chat text; hang-up: free text
	Target      string
	CallID      string
	SDP         string  // video-offer / video-answer: the SDP text (in sdpBuf, if set)
	sdpBuf      *[]byte // the pooled buffer SDP's text is in (releaseSDP)
	Candidate   candidateInit
	Reason      string // hang-up: a Jingle condition
	Code        int    // hang-up: a SIP status; ringing: 180 or 183
	Digits      string // dtmf: 0-9 * # A-D
	Duration    int    // dtmf: milliseconds, 0 for the default

	recent *recentWords // the connection's, for target, callId and usernameFragment (nil: none)
}

// candidateInit is the RTCIceCandidateInit of new-ice-candidate (object or
// string form, with sibling sdpMid/sdpMLineIndex for the string form) or of
// end-of-candidates.
type candidateInit struct {
	Null  bool // candidate: null, the end of candidates for every m-line
	Line  string
	Mid   *string
	MLine *int
	Ufrag string

	object   bool // given as an object
	siblings bool // sdpMid/sdpMLineIndex/usernameFragment given beside it
}

// fieldSetter decodes one member into the message, refusing wrong JSON types.
type fieldSetter func(m *clientMessage, raw json.RawMessage) error

// schema lists the members a message type may carry and those it must.
// nullTarget: the target may be null or missing, meaning the connection's
// only call (the MDN page hangs up with "target": null after its own
// negotiation race).
type schema struct {
	fields     []string
	required   []string
	nullTarget bool
}

var (
	envelope  = []string{"type", "name", "id", "date"}
	callAddr  = []string{"target", "callId"}
	schemaFor = map[string]schema{
		typeUsername:        {fields: join(envelope, "features"), required: []string{"name"}},
		typeMessage:         {fields: join(envelope, "text"), required: []string{"text"}},
		typeVideoOffer:      {fields: join(envelope, callAddr, "sdp"), required: []string{"sdp"}},
		typeVideoAnswer:     {fields: join(envelope, callAddr, "sdp"), required: []string{"sdp"}},
		typeNewICECandidate: {fields: join(envelope, callAddr, "candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"), required: []string{"candidate"}},
		typeHangUp:          {fields: join(envelope, callAddr, "reason", "code", "text"), nullTarget: true},
		typeDecline:         {fields: join(envelope, callAddr, "text"), nullTarget: true},
		typeBusy:            {fields: join(envelope, callAddr, "text"), nullTarget: true},
		typeRinging:         {fields: join(envelope, callAddr, "code")},
		typeEndOfCandidates: {fields: join(envelope, callAddr, "sdpMid", "sdpMLineIndex")},
		typeDTMF:            {fields: join(envelope, callAddr, "digits", "duration"), required: []string{"digits"}},
	}
	setterFor = map[string]fieldSetter{
		"name": setName, "id": setNumber, "date": setNumber, "features": setFeatures, "text": setText,
		"target": setTarget, "callId": setCallID, "sdp": setSDP, "candidate": setCandidate,
		"sdpMid": setSiblingMid, "sdpMLineIndex": setSiblingMLine, "usernameFragment": setSiblingUfrag,
		"reason": setReason, "code": setCode, "digits": setDigits, "duration": setDuration,
	}
)

func join(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

// parseClientMessage decodes and validates one text frame. The returned
// message is never nil: on error its Type is what could be read (for the
// error's ref). Errors wrap ErrMalformed (400) or ErrUnknownType (501).
func parseClientMessage(data []byte) (*clientMessage, error) {
	m := &clientMessage{}
	return m, m.parse(data)
}

// parse is parseClientMessage into m, which must be zero but for recent.
func (m *clientMessage) parse(data []byte) error {
	var buf [8]field // the members of every message type fit: no allocation
	fields, err := readObject(buf[:0], data)
	if err != nil {
		m.Type = probeType(data)
		return err
	}
	if m.Type, err = messageType(fields); err != nil {
		return err
	}
	sch, ok := schemaFor[m.Type]
	if !ok {
		return errorf(ErrUnknownType, token(m.Type))
	}
	if err := m.decode(sch, fields); err != nil {
		return err
	}
	return m.validate()
}

// probeType reads the type of a message that failed the strict reading
// (duplicate keys, case variants), for the ref of the error only.
func probeType(data []byte) string {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return ""
	}
	s, _ := jsonString(probe["type"])
	return s
}

func messageType(fields []field) (string, error) {
	for _, f := range fields {
		if f.key != "type" {
			continue
		}
		s, ok := jsonWord(f.raw)
		if !ok || s == "" {
			return "", errorf(ErrMalformed, "type must be a non-empty string")
		}
		return s, nil
	}
	return "", errorf(ErrMalformed, "missing type")
}

func (m *clientMessage) decode(sch schema, fields []field) error {
	for _, f := range fields {
		if f.key == "type" {
			continue
		}
		if !contains(sch.fields, f.key) {
			return errorf(ErrMalformed, "unknown field "+token(f.key))
		}
		if f.key == "target" && sch.nullTarget && string(f.raw) == "null" {
			continue
		}
		if err := setterFor[f.key](m, f.raw); err != nil {
			return err
		}
	}
	for _, r := range sch.required {
		if !hasField(fields, r) {
			return errorf(ErrMalformed, "missing "+r)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasField(fields []field, key string) bool {
	for _, f := range fields {
		if f.key == key {
			return true
		}
	}
	return false
}

func badType(key, want string) error { return errorf(ErrMalformed, key+" must be "+want) }

func setName(m *clientMessage, raw json.RawMessage) error {
	s, ok := jsonString(raw)
	if !ok || len(s) > maxUserNameBytes {
		return badType("name", "a string")
	}
	m.Name = s
	return nil
}

func setNumber(_ *clientMessage, raw json.RawMessage) error {
	if !jsonNumber(raw) {
		return badType("id and date", "numbers")
	}
	return nil
}

func setFeatures(m *clientMessage, raw json.RawMessage) error {
	list, ok := jsonStrings(raw, maxFeatures)
	if !ok {
		return badType("features", "an array of at most 16 strings")
	}
	for _, f := range list {
		if !featureRE.MatchString(f) {
			return badType("features", "tokens of at most 32 characters")
		}
	}
	m.Features, m.HasFeatures = list, true
	return nil
}

func setText(m *clientMessage, raw json.RawMessage) error {
	s, ok := jsonString(raw)
	if !ok {
		return badType("text", "a string")
	}
	m.Text = s
	return nil
}

func setTarget(m *clientMessage, raw json.RawMessage) error {
	s, ok := m.recent.word(raw)
	if !ok || s == "" || len(s) > gateway.MaxTargetLen {
		return badType("target", "a non-empty string of at most 256 bytes")
	}
	m.Target = s
	return nil
}

// maxCallIDLen bounds a callId.
const maxCallIDLen = 64

// isCallID reports whether s is a valid callId: 1-64 of [A-Za-z0-9._~-]
// (a loop rather than a regular expression: most call messages carry one).
func isCallID(s string) bool {
	if s == "" || len(s) > maxCallIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '~' || c == '-') {
			return false
		}
	}
	return true
}

func setCallID(m *clientMessage, raw json.RawMessage) error {
	s, ok := m.recent.word(raw)
	if !ok || !isCallID(s) {
		return badType("callId", "1-64 of [A-Za-z0-9._~-]")
	}
	m.CallID = s
	return nil
}

func setReason(m *clientMessage, raw json.RawMessage) error {
	s, ok := jsonString(raw)
	if !ok || !reasonRE.MatchString(s) {
		return badType("reason", "a condition name such as busy or decline")
	}
	m.Reason = s
	return nil
}

func setCode(m *clientMessage, raw json.RawMessage) error {
	n, ok := jsonInt(raw, 100, 699)
	if !ok {
		return badType("code", "an integer status between 100 and 699")
	}
	m.Code = n
	return nil
}

// setSDP accepts the RTCSessionDescription object {type, sdp} (what the MDN
// code sends) or a bare SDP string (what its prose says).
func setSDP(m *clientMessage, raw json.RawMessage) error {
	if m.setSDPText(raw) {
		return nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return badType("sdp", "an object {type, sdp} or a string")
	}
	return m.setSDPObject(raw)
}

func (m *clientMessage) setSDPObject(raw json.RawMessage) error {
	var buf [2]field
	fields, err := splitMember(buf[:0], raw)
	if err != nil {
		return err
	}
	var typ string
	for _, f := range fields {
		var s string
		ok := false
		switch f.key {
		case "type":
			s, ok = jsonWord(f.raw)
		case "sdp":
			ok = m.setSDPText(f.raw)
		default:
			return errorf(ErrMalformed, "unknown field sdp."+token(f.key))
		}
		switch {
		case !ok:
			return badType("sdp."+f.key, "a string")
		case f.key == "type":
			typ = s
		}
	}
	if want := sdpTypeFor(m.Type); typ != want {
		return errorf(ErrMalformed, "sdp.type must be "+want)
	}
	return nil
}

func sdpTypeFor(msgType string) string {
	if msgType == typeVideoAnswer {
		return "answer"
	}
	return "offer"
}

// validate checks what the field setters cannot see alone.
func (m *clientMessage) validate() error {
	switch m.Type {
	case typeUsername:
		return nil
	case typeMessage:
		if len(m.Text) > maxChatBytes {
			return errorf(ErrTooLarge, "chat text over 8 KiB")
		}
		return nil
	}
	if m.Target == "" && m.CallID == "" && !schemaFor[m.Type].nullTarget {
		return errorf(ErrMalformed, "missing target")
	}
	return m.validateCall()
}

func (m *clientMessage) validateCall() error {
	switch m.Type {
	case typeVideoOffer, typeVideoAnswer:
		if strings.TrimSpace(m.SDP) == "" {
			return errorf(ErrMalformed, "empty sdp")
		}
	case typeNewICECandidate:
		return m.validateCandidate()
	case typeHangUp, typeDecline, typeBusy:
		if len(m.Text) > maxHangupText {
			return errorf(ErrMalformed, "text over 256 bytes")
		}
	case typeRinging:
		if m.Code != 0 && m.Code != 180 && m.Code != 183 {
			return badType("code", "180 or 183")
		}
	}
	return nil
}

func (m *clientMessage) validateCandidate() error {
	c := &m.Candidate
	if c.object && c.siblings {
		return errorf(ErrMalformed, "sdpMid, sdpMLineIndex and usernameFragment go inside the candidate object")
	}
	line, err := normalizeLine(c.Line)
	c.Line = line
	return err
}
