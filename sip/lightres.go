package sip

import (
	"bytes"

	"github.com/emiago/sipgo/sip"
)

// Responses whose transaction user needs no more than their status code
// are read without sipgo's parser. A browser → SIP call gets four
// responses over UDP: 100 and 180 to its INVITE, the 200 with the answer,
// and the 200 to its BYE. Only the answer's headers and body are used
// (the dialog's To tag, Contact, Record-Route, the SDP: lightanswer.go
// reads those); for the others
// the INVITE's wait (awaitAnswer, outLeg.progress) and the BYE's
// (waitFinal, doInDialog) look at the status code alone, yet sipgo's
// parser built every header of them, about 25 allocations a response.
//
// scanLight reads just what matching a client transaction takes (RFC 3261
// §17.1.3: the top Via's branch and the CSeq method) and the status code,
// and only for a response that is one of those: a provisional response to
// an INVITE or a 2xx to a BYE, without a body. It is strict: folded
// lines, a second Via or CSeq, a Via with more than one value, a body or
// anything it does not expect and the datagram goes to the full parser,
// as before. The transaction user gets a response with the status code
// and reason phrase and no headers.

// lightResponse is what scanLight read from a response.
type lightResponse struct {
	code   int
	reason []byte
	branch []byte
	method []byte
}

var (
	crlf         = []byte("\r\n")
	endOfHeaders = []byte("\r\n\r\n")
	methodInvite = []byte(sip.INVITE)
	methodBye    = []byte(sip.BYE)
	branchMagic  = []byte(sip.RFC3261BranchMagicCookie)
	txKeySep     = sip.TxSeperator
)

// maxLightTxKey bounds a light response's transaction key (branch,
// separator, method), built on the stack.
const maxLightTxKey = 256

// scanLight reads data, a whole UDP datagram starting "SIP/2.0 ", as a
// light response; false: the full parser must read it.
func scanLight(data []byte) (r lightResponse, ok bool) {
	if !bytes.HasSuffix(data, endOfHeaders) {
		return r, false // a body (the answer's 200 and its SDP), or cut short
	}
	line, rest, ok := cutLine(data)
	if !ok || !r.startLine(line) || r.code >= 300 {
		return r, false
	}
	var seenVia, seenCSeq bool
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return r, false
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return r, false // a folded line
		}
		name, value, found := bytes.Cut(line, []byte{':'})
		name, value = bytes.TrimRight(name, " \t"), bytes.Trim(value, " \t")
		if !found || !isToken(name) {
			return r, false
		}
		switch {
		case isName(name, "via", "v"):
			if seenVia || !r.via(value) {
				return r, false
			}
			seenVia = true
		case isName(name, "cseq", ""):
			if seenCSeq || !r.cseq(value) {
				return r, false
			}
			seenCSeq = true
		case isName(name, "content-length", "l"):
			if !bytes.Equal(value, []byte{'0'}) {
				return r, false
			}
		}
	}
	if len(rest) != 0 || !seenVia || !seenCSeq {
		return r, false
	}
	return r, r.eligible()
}

// eligible: a provisional response to an INVITE, or a 2xx to a BYE.
func (r *lightResponse) eligible() bool {
	switch {
	case bytes.Equal(r.method, methodInvite):
		return r.code >= 100 && r.code < 200
	case bytes.Equal(r.method, methodBye):
		return r.code >= 200 && r.code < 300
	}
	return false
}

// startLine reads "SIP/2.0 NNN Reason".
func (r *lightResponse) startLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, responsePrefix)
	if !ok || len(rest) < 3 {
		return false
	}
	code := 0
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return false
		}
		code = code*10 + int(c-'0')
	}
	rest = rest[3:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return false
		}
		rest = rest[1:]
	}
	r.code, r.reason = code, rest
	return true
}

// via reads the branch of a Via value holding one via-parm, written the
// way every UA writes ours back: "SIP/2.0/<transport> <host>[:<port>]"
// and parameters.
func (r *lightResponse) via(value []byte) bool {
	if bytes.IndexByte(value, ',') >= 0 || bytes.IndexByte(value, '"') >= 0 {
		return false
	}
	sentBy, params, _ := bytes.Cut(value, []byte{';'})
	if !viaSentBy(bytes.TrimRight(sentBy, " \t")) {
		return false
	}
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		name, val, _ := bytes.Cut(p, []byte{'='})
		if !bytes.Equal(bytes.Trim(name, " \t"), []byte("branch")) { // sipgo matches it case-sensitively
			continue
		}
		val = bytes.Trim(val, " \t")
		if r.branch != nil || len(val) <= len(branchMagic) || !bytes.HasPrefix(val, branchMagic) || !isToken(val) {
			return false
		}
		r.branch = val
	}
	return r.branch != nil
}

// viaSentBy checks "SIP/2.0/<transport> <host>[:<port>]" (an IPv6 host
// in brackets).
func viaSentBy(b []byte) bool {
	rest, ok := bytes.CutPrefix(b, []byte("SIP/2.0/"))
	if !ok {
		return false
	}
	transport, host, ok := bytes.Cut(rest, []byte{' '})
	if !ok || !every(transport, isLetter) || len(host) == 0 {
		return false
	}
	port := []byte(nil)
	if host[0] == '[' {
		end := bytes.IndexByte(host, ']')
		if end < 2 || !every(host[1:end], isIPv6Byte) {
			return false
		}
		host, port = host[1:end], host[end+1:]
	} else {
		if i := bytes.IndexByte(host, ':'); i >= 0 {
			host, port = host[:i], host[i:]
		}
		if !every(host, isHostByte) || !isAlnum(host[0]) {
			return false
		}
	}
	return len(port) == 0 || port[0] == ':' && len(port) <= 6 && every(port[1:], isDigit)
}

func every(b []byte, f func(byte) bool) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !f(c) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool   { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isHostByte(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }
func isIPv6Byte(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':' || c == '.'
}

// cseq reads "number method", one space between them (sipgo keeps any
// more in the method, and so would match no transaction).
func (r *lightResponse) cseq(value []byte) bool {
	num, method, ok := bytes.Cut(value, []byte{' '})
	if !ok || len(num) > 10 || !every(num, isDigit) {
		return false
	}
	if len(method) == 0 || bytes.ContainsAny(method, " \t") {
		return false
	}
	r.method = method
	return true
}

// cutLine returns the line before the first CRLF and what follows it.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	return bytes.Cut(b, crlf)
}

// isToken: a header name, RFC 3261 §25.1's token (letters, digits and
// -.!%*_+`'~).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || bytes.IndexByte([]byte("-.!%*_+`'~"), c) >= 0) {
			return false
		}
	}
	return true
}

// isName reports whether name is long or short (a compact form; "" for
// none), in any case.
func isName(name []byte, long, short string) bool {
	switch len(name) {
	case len(long):
		return bytes.EqualFold(name, []byte(long))
	case len(short):
		return short != "" && bytes.EqualFold(name, []byte(short))
	}
	return false
}

// takeLight hands a light response to its client transaction; false: the
// datagram is not one, or matches no transaction of ours (the full parser
// reads it then: a stray response has handlers that need its headers).
func (a *Adapter) takeLight(data []byte) bool {
	r, ok := scanLight(data)
	if !ok || len(r.branch)+len(txKeySep)+len(r.method) > maxLightTxKey {
		return false
	}
	var buf [maxLightTxKey]byte
	key := append(append(append(buf[:0], r.branch...), txKeySep...), r.method...)
	tx := a.clientTxs.find(key)
	if tx == nil {
		return false
	}
	tx.receiveStatus(r.code, reasonPhrase(r.code, r.reason))
	return true
}

// reasonPhrase is reason as a string, without allocating for the usual
// phrases of the responses scanLight reads.
func reasonPhrase(code int, reason []byte) string {
	for _, p := range [...]struct {
		code   int
		reason string
	}{{100, "Trying"}, {180, "Ringing"}, {200, "OK"}} {
		if code == p.code && string(reason) == p.reason {
			return p.reason
		}
	}
	return string(reason)
}
