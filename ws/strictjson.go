package ws

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxFields bounds the members of one JSON object in a client message.
const maxFields = 32

// field is one member of a JSON object, its value kept raw (and valid
// JSON) for a typed second pass.
type field struct {
	key string
	raw json.RawMessage
}

// readObject reads data as exactly one JSON object and appends its members
// in order to buf (a caller's array spares the allocations of a growing
// slice). It refuses what encoding/json would let through silently:
// duplicate keys, keys that differ only in case ("type" and "TYPE"), and
// trailing data. Errors wrap ErrMalformed. The scanner checks the JSON
// syntax as it splits (what json.Valid accepts, in the same pass, without
// allocating); a document it refuses for its shape (not an object, a
// duplicate key, data after it) is checked whole with json.Valid, so that
// an invalid one gets "invalid JSON" whatever comes first, as when
// json.Valid ran before the split.
func readObject(buf []field, data []byte) ([]field, error) {
	fields, err := splitObject(buf, data)
	if err != nil && err != errInvalidJSON && !json.Valid(data) {
		return nil, errInvalidJSON
	}
	return fields, err
}

// splitObject is readObject without the precedence of "invalid JSON".
func splitObject(buf []field, data []byte) ([]field, error) {
	return split(objectReader{data: data}, buf)
}

// splitMember is splitObject for a member of a document readObject
// accepted: its syntax is checked already, so its strings are skipped
// with a search for their closing quote (the SDP of a video-offer, some
// 5 KB, was checked byte by byte a second time).
func splitMember(buf []field, data []byte) ([]field, error) {
	return split(objectReader{data: data, checked: true}, buf)
}

func split(r objectReader, buf []field) ([]field, error) {
	data := r.data
	fields, err := r.object(buf)
	if err != nil {
		return nil, err
	}
	if r.skipSpace(); r.pos != len(data) {
		return nil, errorf(ErrMalformed, "data after the JSON object")
	}
	return fields, nil
}

var errInvalidJSON = errorf(ErrMalformed, "invalid JSON")

// maxNestingDepth is encoding/json's: a document with more arrays and
// objects open at once is not valid JSON to json.Valid.
const maxNestingDepth = 10000

type objectReader struct {
	data    []byte
	pos     int
	depth   int  // arrays and objects open around pos
	checked bool // data is valid JSON (splitMember)
}

func (r *objectReader) object(fields []field) ([]field, error) {
	if r.skipSpace(); !r.eat('{') {
		return nil, errorf(ErrMalformed, "not a JSON object")
	}
	r.depth++
	if r.skipSpace(); r.eat('}') {
		return fields, nil
	}
	for {
		f, err := r.member()
		if err != nil {
			return nil, err
		}
		if err := checkNewKey(fields, f.key); err != nil {
			return nil, err
		}
		fields = append(fields, f)
		if r.skipSpace(); r.eat('}') {
			return fields, nil
		}
		if !r.eat(',') {
			return nil, errInvalidJSON
		}
	}
}

func (r *objectReader) member() (field, error) {
	r.skipSpace()
	keyRaw, err := r.value()
	if err != nil || keyRaw[0] != '"' {
		return field{}, errInvalidJSON
	}
	key, ok := jsonWord(keyRaw)
	if r.skipSpace(); !ok || !r.eat(':') {
		return field{}, errInvalidJSON
	}
	r.skipSpace()
	raw, err := r.value()
	if err != nil {
		return field{}, err
	}
	return field{key: key, raw: raw}, nil
}

// value returns the next JSON value, its syntax checked (errInvalidJSON).
func (r *objectReader) value() (json.RawMessage, error) {
	start := r.pos
	ok := false
	if r.pos < len(r.data) && (r.data[r.pos] == '{' || r.data[r.pos] == '[') {
		ok = r.skipNested()
	} else {
		ok = r.skipScalar()
	}
	if !ok {
		return nil, errInvalidJSON
	}
	return r.data[start:r.pos], nil
}

// skipScalar moves past a string, number, true, false or null and reports
// whether it was one.
func (r *objectReader) skipScalar() bool {
	if r.pos >= len(r.data) {
		return false
	}
	switch r.data[r.pos] {
	case '"':
		return r.skipString()
	case 't':
		return r.skipWord("true")
	case 'f':
		return r.skipWord("false")
	case 'n':
		return r.skipWord("null")
	}
	return r.skipNumber()
}

// strPlain marks the bytes a JSON string holds as they are: not the
// quote, the backslash or a control character. Bytes of 0x80 and above
// are not checked for UTF-8 here (json.Valid does not either; a text
// frame's UTF-8 is checked before).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString moves past the string at pos and reports whether it is one:
// closed, no control characters, only the escapes of RFC 8259.
func (r *objectReader) skipString() bool {
	if r.checked {
		return r.skipCheckedString()
	}
	d := r.data
	for i := r.pos + 1; i < len(d); i++ {
		if strPlain[d[i]] {
			continue
		}
		switch d[i] {
		case '"':
			r.pos = i + 1
			return true
		case '\\':
			n := escapeLen(d[i:])
			if n == 0 {
				return false
			}
			i += n - 1
		default:
			return false // a control character
		}
	}
	return false
}

// skipCheckedString is skipString for a string of valid JSON: it ends at
// the first quote that an odd run of backslashes does not escape (in a
// valid string, backslashes before a quote pair up as \\ escapes; an odd
// one out escapes the quote), found with bytes.IndexByte.
func (r *objectReader) skipCheckedString() bool {
	d, start := r.data, r.pos+1
	for i := start; i < len(d); i++ {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return false
		}
		i += j
		n := 0
		for i-n-1 >= start && d[i-n-1] == '\\' {
			n++
		}
		if n%2 == 0 {
			r.pos = i + 1
			return true
		}
	}
	return false
}

// escapeLen returns the length of the escape at the start of s, 0 if it
// is none.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if _, ok := hex4(s[2:]); ok {
			return 6
		}
	}
	return 0
}

func (r *objectReader) skipWord(w string) bool {
	if !bytes.HasPrefix(r.data[r.pos:], []byte(w)) {
		return false
	}
	r.pos += len(w)
	return true
}

// skipNumber moves past a number of RFC 8259's grammar:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. What follows it is the
// caller's to check.
func (r *objectReader) skipNumber() bool {
	d, i := r.data, r.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = skipDigits(d, i)
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		j := skipDigits(d, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := skipDigits(d, i)
		if j == i {
			return false
		}
		i = j
	}
	r.pos = i
	return true
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// skipNested moves past the array or object at pos and everything in it,
// checking the syntax, without recursion: objs records which of the
// containers open at each depth are objects.
func (r *objectReader) skipNested() bool {
	var objs [maxNestingDepth/64 + 1]uint64
	d, base := r.data, r.depth
	for {
		// A value starts at pos.
		if r.pos < len(d) && (d[r.pos] == '{' || d[r.pos] == '[') {
			if r.depth == maxNestingDepth {
				return false
			}
			obj := d[r.pos] == '{'
			if obj {
				objs[r.depth/64] |= 1 << (r.depth % 64)
			} else {
				objs[r.depth/64] &^= 1 << (r.depth % 64)
			}
			r.depth++
			r.pos++
			r.skipSpace()
			if !r.eat(closer(obj)) {
				if obj && !r.key() {
					return false
				}
				continue
			}
			r.depth--
		} else if !r.skipScalar() {
			return false
		}
		// A value ended: the next element, or the end of containers.
		for {
			if r.depth == base {
				return true
			}
			r.skipSpace()
			obj := objs[(r.depth-1)/64]&(1<<((r.depth-1)%64)) != 0
			if r.eat(',') {
				r.skipSpace()
				if obj && !r.key() {
					return false
				}
				break
			}
			if !r.eat(closer(obj)) {
				return false
			}
			r.depth--
		}
	}
}

// key moves past a member's name and its colon, and the spaces after.
func (r *objectReader) key() bool {
	if r.pos >= len(r.data) || r.data[r.pos] != '"' || !r.skipString() {
		return false
	}
	r.skipSpace()
	if !r.eat(':') {
		return false
	}
	r.skipSpace()
	return true
}

func closer(obj bool) byte {
	if obj {
		return '}'
	}
	return ']'
}

func (r *objectReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\r', '\n':
			r.pos++
		default:
			return
		}
	}
}

func (r *objectReader) eat(b byte) bool {
	if r.pos < len(r.data) && r.data[r.pos] == b {
		r.pos++
		return true
	}
	return false
}

func checkNewKey(fields []field, key string) error {
	if len(fields) >= maxFields {
		return errorf(ErrMalformed, "too many fields")
	}
	for _, f := range fields {
		if f.key == key {
			return errorf(ErrMalformed, "duplicate field "+token(key))
		}
		if strings.EqualFold(f.key, key) {
			return errorf(ErrMalformed, "fields differ only in case: "+token(key))
		}
	}
	return nil
}

// isNull reports whether raw is the JSON literal null.
func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// jsonString decodes raw, a valid JSON value that must be a string (not
// null). Strings without escapes and with valid UTF-8 are copied directly.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	return unquote(inner)
}

// unquote decodes the inside of a valid JSON string literal as
// encoding/json does: invalid UTF-8 and lone surrogates become U+FFFD.
func unquote(inner []byte) (string, bool) {
	b, ok := appendUnquoted(make([]byte, 0, len(inner)), inner)
	if !ok {
		return "", false
	}
	// b is ours alone and never written again: the string shares its
	// memory instead of copying it (what strings.Builder does).
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// appendUnquoted is unquote appending to b.
func appendUnquoted(b, inner []byte) ([]byte, bool) {
	for i := 0; i < len(inner); {
		if n := plainRun(inner[i:]); n > 0 { // copied as a whole: an SDP's lines between its \r\n
			b = append(b, inner[i:i+n]...)
			i += n
			continue
		}
		switch c := inner[i]; {
		case c == '\\':
			n := unescape(&b, inner[i:])
			if n == 0 {
				return nil, false
			}
			i += n
		case c < 0x20:
			return nil, false
		default: // not ASCII (plainRun took the rest)
			r, size := utf8.DecodeRune(inner[i:])
			b = utf8.AppendRune(b, r) // RuneError for a bad byte, as encoding/json
			i += size
		}
	}
	return b, true
}

// plainRun is how many bytes at the start of s stand for themselves:
// printable ASCII other than the backslash. It looks at eight bytes at a
// time while none of them is a byte to stop at.
func plainRun(s []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		below := (w - 0x20*ones) &^ w             // a byte under 0x20 (or at 0x80 and over: caught below)
		bs := w ^ '\\'*ones                       // a zero byte where a backslash was
		if (below|w|((bs-ones)&^bs))&highs != 0 { // under 0x20, not ASCII, or a backslash
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// unescape appends the character of the escape at the start of s and
// returns how many bytes it took (0: not an escape).
func unescape(b *[]byte, s []byte) int {
	if len(s) < 2 {
		return 0
	}
	if c := simpleEscape(s[1]); c != 0 {
		*b = append(*b, c)
		return 2
	}
	if s[1] != 'u' {
		return 0
	}
	r1, ok := hex4(s[2:])
	if !ok {
		return 0
	}
	if utf16.IsSurrogate(r1) && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if r2, ok := hex4(s[8:]); ok {
			if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
				*b = utf8.AppendRune(*b, r)
				return 12
			}
		}
	}
	if utf16.IsSurrogate(r1) {
		r1 = utf8.RuneError
	}
	*b = utf8.AppendRune(*b, r1)
	return 6
}

// simpleEscape returns the character of the one-letter escape \c, or 0.
func simpleEscape(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// jsonWord is jsonString for member names and values from a small known
// set (the dialect's keys, message types, SDP types): those come back as
// the one shared string instead of a new copy each time.
func jsonWord(raw json.RawMessage) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' {
		if w, ok := knownWords[string(raw[1:len(raw)-1])]; ok { // no allocation for the lookup
			return w, true
		}
	}
	return jsonString(raw)
}

// knownWords holds the strings jsonWord shares. Escaped spellings of them
// ("typ\u0065") are not in it and are decoded as any other string.
var knownWords = func() map[string]string {
	m := make(map[string]string)
	for _, w := range []string{
		"type", "name", "id", "date", "features", "text", "target", "callId", "sdp", "candidate",
		"sdpMid", "sdpMLineIndex", "usernameFragment", "reason", "code", "digits", "duration",
		"offer", "answer",
		typeUsername, typeMessage, typeVideoOffer, typeVideoAnswer, typeNewICECandidate, typeHangUp,
		typeDecline, typeBusy, typeRinging, typeEndOfCandidates, typeDTMF,
	} {
		m[w] = w
	}
	return m
}()

// recentWords are the last strings a connection's messages carried in
// members whose values repeat from one message of a call to the next
// (target, callId, usernameFragment): a value spelled like one of them is
// that string again instead of a new copy per message. Only the
// connection's reader uses it.
type recentWords struct {
	w    [4]string
	next int
}

// maxRecentWord bounds what recentWords keeps for the connection's life.
const maxRecentWord = 256

// word is jsonString, sharing a recent string equal to the value. Only a
// value without escapes is compared: bytes equal to a recent string are
// valid UTF-8 as it is, so they are the value's text, whereas an escaped
// value's bytes could spell another recent string.
func (r *recentWords) word(raw json.RawMessage) (string, bool) {
	if r == nil {
		return jsonString(raw)
	}
	if len(raw) >= 2 && raw[0] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			for _, w := range r.w {
				if w != "" && string(inner) == w {
					return w, true
				}
			}
		}
	}
	s, ok := jsonString(raw)
	if ok && s != "" && len(s) <= maxRecentWord {
		r.w[r.next] = s
		r.next = (r.next + 1) % len(r.w)
	}
	return s, ok
}

// jsonInt decodes raw, which must be an integral JSON number in [min, max]
// (what json.Unmarshal into an int accepts: no fraction, no exponent). The
// document is valid JSON, so raw is a well-formed number.
func jsonInt(raw json.RawMessage, min, max int) (int, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 { // 18 digits cannot overflow an int64
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if raw[0] == '-' {
		n = -n
	}
	if n < min || n > max {
		return 0, false
	}
	return n, true
}

// jsonNumber reports whether raw, a valid JSON value, is a number.
func jsonNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}

// jsonStrings decodes raw, which must be an array of at most maxItems JSON
// strings.
func jsonStrings(raw json.RawMessage, maxItems int) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) > maxItems {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := jsonString(it)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
