package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// inMsg is the part of a server message the tool reads.
type inMsg struct {
	Type   string   `json:"type"`
	CallID string   `json:"callId"`
	Name   string   `json:"name"`
	Code   int      `json:"code"`
	Reason string   `json:"reason"`
	Text   string   `json:"text"`
	Ref    string   `json:"ref"`
	Users  []string `json:"users"`
	// At is when the read loop got the message off the connection: the
	// setup latency ends there, not when the call's goroutine got to it.
	At time.Time `json:"-"`
}

// errScan is what scanInMsg reports for input it does not handle (decodeInMsg
// then falls back to encoding/json).
var errScan = errors.New("load: message not scanned")

// decodeInMsg fills m from the server message b. Most of what the gateway
// sends to the tool is an SDP or a candidate the tool never looks at, so
// scanInMsg reads only the top-level fields of inMsg and skips the rest
// without decoding it; encoding/json (which validates the whole message
// and decodes the SDP's escapes only to throw them away) was a fifth of the
// tool's CPU. What the scanner does not handle (a number that is not an
// integer, bad JSON) goes to encoding/json, whose verdict stands.
func decodeInMsg(b []byte, m *inMsg) error {
	if scanInMsg(b, m) == nil {
		return nil
	}
	var j inMsg // here, not m: m stays on the read loop's stack
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = j
	return nil
}

// scanInMsg reads the top-level fields of the JSON object b into m.
func scanInMsg(b []byte, m *inMsg) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errScan
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return trailing(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errScan
		}
		end := stringEnd(b, i)
		if end < 0 {
			return errScan
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errScan
		}
		i = skipSpace(b, i+1)
		vend := valueEnd(b, i)
		if vend < 0 {
			return errScan
		}
		if err := m.setField(key, b[i:vend]); err != nil {
			return err
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return errScan
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return trailing(b, i+1)
		default:
			return errScan
		}
	}
}

// keyCallID is the one key of inMsg with an upper-case letter: its
// lower-case spelling passes isLowerASCII, and encoding/json matches it.
var keyCallID = []byte("callId")

// setField stores the value v of key in m if inMsg has such a field.
func (m *inMsg) setField(key, v []byte) error {
	var dst *string
	switch string(key) { // no allocation: the compiler compares in place
	case "type":
		dst = &m.Type
	case "callId":
		dst = &m.CallID
	case "name":
		dst = &m.Name
	case "reason":
		dst = &m.Reason
	case "text":
		dst = &m.Text
	case "ref":
		dst = &m.Ref
	case "code":
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return errScan // null, 1.5, 1e3: encoding/json decides
		}
		m.Code = n
		return nil
	case "users":
		var users []string
		if json.Unmarshal(v, &users) != nil {
			return errScan
		}
		m.Users = users
		return nil
	default:
		if bytes.IndexByte(key, '\\') >= 0 || !isLowerASCII(key) || bytes.EqualFold(key, keyCallID) {
			return errScan // an escaped or differently cased key ("callid"): encoding/json matches those too
		}
		return nil
	}
	return scanString(v, dst)
}

// scanString stores the JSON string v in dst (escapes through encoding/json).
func scanString(v []byte, dst *string) error {
	if len(v) < 2 || v[0] != '"' {
		return errScan // null or another kind: encoding/json decides
	}
	body := v[1 : len(v)-1]
	for _, c := range body {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return errScan
			}
			*dst = s
			return nil
		}
	}
	*dst = intern(body)
	return nil
}

// intern returns the message types and reasons the tool sees on every
// call as constants, anything else as a new string.
func intern(b []byte) string {
	switch string(b) {
	case "video-offer":
		return "video-offer"
	case "video-answer":
		return "video-answer"
	case "new-ice-candidate":
		return "new-ice-candidate"
	case "end-of-candidates":
		return "end-of-candidates"
	case "hang-up":
		return "hang-up"
	case "ringing":
		return "ringing"
	case "error":
		return "error"
	}
	return string(b)
}

// isLowerASCII reports whether key is plain lower-case ASCII letters,
// digits, '-' and '_' (the gateway's keys other than callId): a key that
// differs from inMsg's only by case would be matched by encoding/json.
func isLowerASCII(key []byte) bool {
	for _, c := range key {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errScan
	}
	return nil
}

// stringEnd returns the index after the closing quote of the string that
// starts at b[i] (a quote), or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the JSON value that starts at b[i], or
// -1. Objects and arrays are skipped by depth (strings inside respected),
// not validated.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = stringEnd(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z' || b[j] >= 'A' && b[j] <= 'Z') {
		j++
	}
	if j == i {
		return -1
	}
	switch lit := string(b[i:j]); lit {
	case "true", "false", "null":
		return j
	}
	if _, err := strconv.ParseFloat(string(b[i:j]), 64); err != nil {
		return -1
	}
	return j
}
