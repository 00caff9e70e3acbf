package ws

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The messages of every call's setup (the answer or offer with its SDP,
// ringing, trickled candidates) are rendered by hand instead of through
// encoding/json's reflection: the same bytes, checked by
// TestFastEncodeMatchesJSON and FuzzAppendJSONString.

// encodeSDPMsg renders m as encode(m) would.
func encodeSDPMsg(m sdpMsg) []byte {
	b := make([]byte, 0, 96+len(m.Name)+len(m.Target)+len(m.CallID)+quotedLen(m.SDP.SDP))
	b = appendHead(b, m.Type, m.Name, m.Target, m.CallID)
	b = append(b, `,"sdp":{"type":`...)
	b = appendJSONString(b, m.SDP.Type)
	b = append(b, `,"sdp":`...)
	b = appendJSONString(b, m.SDP.SDP)
	return append(b, "}}"...)
}

// encodeRingingMsg renders m as encode(m) would.
func encodeRingingMsg(m ringingMsg) []byte {
	b := make([]byte, 0, 64+len(m.Name)+len(m.Target)+len(m.CallID))
	b = appendHead(b, m.Type, m.Name, m.Target, m.CallID)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(m.Code), 10)
	return append(b, '}')
}

// encodeCandidateMsg renders m as encode(m) would.
func encodeCandidateMsg(m candidateMsg) []byte {
	c := m.Candidate
	n := candidateMsgFixed + len(m.Type) + len(m.Name) + len(m.Target) + len(m.CallID) + len(c.Candidate) + len(c.UsernameFragment)
	if c.SDPMid != nil {
		n += len(*c.SDPMid)
	}
	b := make([]byte, 0, n)
	b = appendHead(b, m.Type, m.Name, m.Target, m.CallID)
	b = append(b, `,"candidate":{"candidate":`...)
	b = appendJSONString(b, c.Candidate)
	b = append(b, `,"sdpMid":`...)
	if c.SDPMid == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *c.SDPMid)
	}
	b = append(b, `,"sdpMLineIndex":`...)
	b = strconv.AppendInt(b, int64(c.SDPMLineIndex), 10)
	if c.UsernameFragment != "" {
		b = append(b, `,"usernameFragment":`...)
		b = appendJSONString(b, c.UsernameFragment)
	}
	return append(b, "}}"...)
}

// encodeEndOfCandidatesMsg renders m as encode(m) would.
func encodeEndOfCandidatesMsg(m endOfCandidatesMsg) []byte {
	b := make([]byte, 0, 96+len(m.Type)+len(m.Name)+len(m.Target)+len(m.CallID)+midLen(m.SDPMid))
	b = appendHead(b, m.Type, m.Name, m.Target, m.CallID)
	if m.SDPMid != nil {
		b = append(b, `,"sdpMid":`...)
		b = appendJSONString(b, *m.SDPMid)
	}
	return append(b, '}')
}

func midLen(mid *string) int {
	if mid == nil {
		return 0
	}
	return len(*mid)
}

// encodeHangupMsg renders m as encode(m) would.
func encodeHangupMsg(m hangupMsg) []byte {
	b := make([]byte, 0, 128+len(m.Type)+len(m.Name)+len(m.Target)+len(m.CallID)+len(m.Reason)+len(m.Text))
	b = appendHead(b, m.Type, m.Name, m.Target, m.CallID)
	if m.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, m.Reason)
	}
	if m.Code != 0 {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(m.Code), 10)
	}
	if m.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, m.Text)
	}
	return append(b, '}')
}

// candidateMsgFixed is the length of a candidate message without its
// strings' contents: the member names and punctuation, six strings' quotes,
// "null" for a missing sdpMid and up to two digits of sdpMLineIndex. A
// smaller estimate (it was 128) made the buffer grow, a second allocation
// per candidate; escapes in the strings still may.
const candidateMsgFixed = len(`{"type":,"name":,"target":,"callId":,"candidate":{"candidate":,"sdpMid":null,"sdpMLineIndex":99,"usernameFragment":}}`) + 6*2

// appendHead opens a message with the fields every call message starts
// with: type, name, target and, when set, callId.
func appendHead(b []byte, typ, name, target, callID string) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, target)
	if callID != "" {
		b = append(b, `,"callId":`...)
		b = appendJSONString(b, callID)
	}
	return b
}

// quotedLen is about the length of s quoted: exact for an SDP, whose only
// characters to escape are its line ends (\r and \n, a byte more each).
func quotedLen(s string) int {
	return len(s) + 2 + strings.Count(s, "\r") + strings.Count(s, "\n")
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes a string: the
// HTML characters <, > and & and U+2028/U+2029 as \u escapes, invalid
// UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe: an ASCII byte encoding/json writes as it is (HTML-escaped).
func jsonSafe(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}
