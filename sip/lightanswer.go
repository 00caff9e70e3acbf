package sip

import (
	"bytes"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// The 2xx with the SDP answer to one of our INVITEs over UDP, read without
// sipgo's full parser. Of its headers the outbound leg reads the To (the
// dialog's remote tag), the Contact (remote target), the Record-Routes
// (route set), the Content-Type and the body (sdpBody, outLeg.answered,
// uacDialog); sipgo's parser also built the Via, From, Call-ID, CSeq,
// Content-Length and every other header, and copied the start line: about
// half of its 30 allocations a response.
//
// scanAnswer reads the common shape of that response and nothing else:
// one Via, CSeq INVITE, one From, Call-ID (printable ASCII), To,
// Content-Type and at most one Contact line, any Record-Routes, a Content-Length equal to the
// non-empty body, no folded lines, no control bytes. The headers the leg
// reads are parsed by the very header parsers of the full parser
// (headerParsers), so they are what it would have made; the others are
// checked, not built: the Via and CSeq as scanLight reads them, the From
// and Call-ID must be the INVITE's own, byte for byte (written by sipgo,
// which parses them back). A header the full parser has a parser for and
// scanAnswer does not read (Max-Forwards, Route, Refer-To, Referred-By),
// any header it reads given twice, or any check failed: the full parser
// reads the datagram as before, so odd input is treated exactly as
// before. The response handed to the transaction holds only the headers
// the leg reads (and the Content-Length SetBody adds).

// maxAnswerKept bounds the header lines an answer keeps for sipgo's
// header parsers (To, Contact, Content-Type, Record-Routes); more and the
// full parser reads it.
const maxAnswerKept = 12

// answerScan is what scanAnswer found: slices of the datagram.
type answerScan struct {
	code   int
	reason []byte
	branch []byte
	from   []byte // the From value
	callID []byte
	kept   [maxAnswerKept][]byte // whole header lines, in order
	nkept  int
	body   []byte
}

// answerSeen counts the headers that scanAnswer allows once.
type answerSeen struct {
	via, cseq, from, callID, to, contact, ctype, clen bool
}

// scanAnswer reads data, a whole UDP datagram starting "SIP/2.0 ", as a
// 2xx answer to an INVITE; false: the full parser must read it.
func scanAnswer(data []byte) (s answerScan, ok bool) {
	if len(data) > sip.ParseMaxMessageLength {
		return s, false
	}
	end := bytes.Index(data, endOfHeaders)
	if end < 0 {
		return s, false
	}
	head, body := data[:end+len(crlf)], data[end+len(endOfHeaders):]
	line, rest, _ := cutLine(head)
	if !s.startLine(line) {
		return s, false
	}
	var seen answerSeen
	clen := -1
	for len(rest) > 0 {
		line, rest, _ = cutLine(rest)
		if !s.header(line, &seen, &clen) {
			return s, false
		}
	}
	if !seen.via || !seen.cseq || !seen.from || !seen.callID || !seen.to || !seen.ctype ||
		clen <= 0 || clen != len(body) {
		return s, false
	}
	s.body = body
	return s, true
}

// startLine reads "SIP/2.0 2xx Reason" (the reason may be empty, the
// space before it may not: sipgo's parser refuses a line without it).
func (s *answerScan) startLine(line []byte) bool {
	var r lightResponse
	if !plainLine(line) || !r.startLine(line) || r.code < 200 || r.code >= 300 ||
		len(line) <= len(responsePrefix)+3 {
		return false
	}
	s.code, s.reason = r.code, r.reason
	return true
}

// header reads one header line; false: the full parser must read the
// datagram.
func (s *answerScan) header(line []byte, seen *answerSeen, clen *int) bool {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || !plainLine(line) {
		return false // an empty line before the end, a folded line, control bytes
	}
	name, value, found := bytes.Cut(line, []byte{':'})
	name, value = bytes.TrimRight(name, " \t"), bytes.Trim(value, " \t")
	if !found || !isToken(name) {
		return false
	}
	switch {
	case isName(name, "via", "v"):
		var r lightResponse
		if !once(&seen.via) || !r.via(value) {
			return false
		}
		s.branch = r.branch
	case isName(name, "cseq", ""):
		return once(&seen.cseq) && isInviteCSeq(value)
	case isName(name, "from", "f"):
		s.from = value
		return once(&seen.from)
	case isName(name, "call-id", "i"):
		s.callID = value
		return once(&seen.callID) && isWord(value)
	case isName(name, "to", "t"):
		return once(&seen.to) && s.keep(line)
	case isName(name, "contact", "m"):
		return once(&seen.contact) && s.keep(line)
	case isName(name, "content-type", "c"):
		return once(&seen.ctype) && s.keep(line)
	case isName(name, "record-route", ""):
		return s.keep(line)
	case isName(name, "content-length", "l"):
		n, ok := answerLength(value)
		*clen = n
		return once(&seen.clen) && ok
	default:
		// A header sipgo's parser would parse (and might refuse) that
		// the leg does not read: the full parser decides.
		return !hasParser(name)
	}
	return true
}

// hasParser reports whether sipgo's parser has a parser for the header
// name (any case): every name it knows is short.
func hasParser(name []byte) bool {
	var lower [16]byte
	if len(name) > len(lower) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	_, ok := headerParsers[string(lower[:len(name)])]
	return ok
}

// isWord reports whether a Call-ID is printable ASCII without white space
// (RFC 3261's word, loosely): sipgo's parser refuses one that is empty
// once it has trimmed white space, Unicode's included.
func isWord(b []byte) bool {
	return every(b, func(c byte) bool { return '!' <= c && c <= '~' })
}

// once marks a header seen; false if it was already.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

func (s *answerScan) keep(line []byte) bool {
	if s.nkept == len(s.kept) {
		return false
	}
	s.kept[s.nkept] = line
	s.nkept++
	return true
}

// plainLine reports whether line holds no control bytes but tabs (no CR or
// LF but at its end, which sipgo's parser would cut differently or refuse).
func plainLine(line []byte) bool {
	for _, c := range line {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// maxCSeq is the greatest CSeq number sipgo's parser accepts (2**31 - 1).
const maxCSeq = 1<<31 - 1

// isInviteCSeq reports whether value is "number INVITE" as scanLight reads a
// CSeq, with a number sipgo's parser accepts.
func isInviteCSeq(value []byte) bool {
	var r lightResponse
	if !r.cseq(value) || !bytes.Equal(r.method, methodInvite) {
		return false
	}
	num, _, _ := bytes.Cut(value, []byte{' '})
	n, ok := decimal(num)
	return ok && n <= maxCSeq
}

// answerLength reads a Content-Length value: digits only.
func answerLength(value []byte) (int, bool) {
	n, ok := decimal(value)
	return int(n), ok && n <= uint64(sip.ParseMaxMessageLength)
}

// decimal reads 1-10 ASCII digits.
func decimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// echoes reports whether the answer's From and Call-ID are those of inv,
// byte for byte as sipgo wrote them.
func (s *answerScan) echoes(inv *sip.Request) bool {
	callID, from := inv.CallID(), inv.From()
	return callID != nil && from != nil && string(*callID) == string(s.callID) && writes(from, s.from)
}

// writes reports whether h's value, as sipgo writes it, is value.
// writeHeader writes what h.StringWrite does, without its allocations.
func writes(h sip.Header, value []byte) bool {
	m := valueMatches.Get().(*valueMatch) // an io.StringWriter escapes: pooled, not made per answer
	*m = valueMatch{skip: len(h.Name()) + len(": "), want: value, ok: true}
	writeHeader(m, h) // "Name: value"
	ok := m.ok && m.skip == 0 && len(m.want) == 0
	*m = valueMatch{}
	valueMatches.Put(m)
	return ok
}

var valueMatches = sync.Pool{New: func() any { return new(valueMatch) }}

// valueMatch is an io.StringWriter that compares what a header writes,
// after its name and ": ", with want.
type valueMatch struct {
	skip int
	want []byte
	ok   bool
}

func (m *valueMatch) WriteString(str string) (int, error) {
	n := len(str)
	if m.skip > 0 {
		k := min(m.skip, len(str))
		m.skip -= k
		str = str[k:]
	}
	if len(m.want) < len(str) || string(m.want[:len(str)]) != str {
		m.ok = false
		return n, nil
	}
	m.want = m.want[len(str):]
	return n, nil
}

// response builds the response the transaction user gets: the status,
// the kept headers as sipgo's header parsers make them, and a copy of the
// body; false if one of those parsers refuses its header.
func (s *answerScan) response() (*sip.Response, bool) {
	res := sip.NewResponse(s.code, reasonPhrase(s.code, s.reason))
	var out []sip.Header
	for _, line := range s.kept[:s.nkept] {
		var err error
		if out, err = headerParsers.ParseHeader(out[:0], line); err != nil {
			return nil, false
		}
		for _, h := range out {
			res.AppendHeader(h)
		}
	}
	res.SetBody(bytes.Clone(s.body))
	return res, true
}

// takeAnswer hands a 2xx answer to its INVITE's client transaction; false:
// the datagram is not one scanAnswer reads, or matches no INVITE
// transaction of ours (the full parser reads it then: a retransmitted 2xx
// is ACKed from the dialog table, a late one from the late-2xx table).
func (a *Adapter) takeAnswer(data []byte, src *udpSource) bool {
	s, ok := scanAnswer(data)
	if !ok || len(s.branch)+len(txKeySep)+len(methodInvite) > maxLightTxKey {
		return false
	}
	var buf [maxLightTxKey]byte
	key := append(append(append(buf[:0], s.branch...), txKeySep...), methodInvite...)
	tx := a.clientTxs.find(key)
	if tx == nil || !tx.invite || !s.echoes(tx.origin) {
		return false
	}
	res, ok := s.response()
	if !ok {
		return false
	}
	res.SetTransport("UDP")
	res.SetSource(src.str)
	tx.receive(res)
	return true
}
