package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// dropRequest is validateRequest's verdict for requests that must get no
// answer at all: one would echo their CR, LF or NUL back in To, From or Via
// (a bare LF passes sipgo's parser), i.e. inject into our own response.
const dropRequest = -1

// sipgo's parser is lenient; validateRequest adds the checks a gateway
// needs before it acts on a request (protocols.md §6.2). It returns 0 when
// the request is fine, dropRequest, or the status and reason phrase to
// answer with.
func validateRequest(req *sip.Request) (int, string) {
	if code, reason := checkHeaderBytes(req); code != 0 {
		return code, reason
	}
	if req.SipVersion != "SIP/2.0" {
		return 505, "Version Not Supported"
	}
	if code, reason := checkSingletons(req); code != 0 {
		return code, reason
	}
	if code, reason := checkCSeq(req); code != 0 {
		return code, reason
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return 400, "Content-Length Mismatch"
	}
	return checkSemantics(req)
}

// singletons are headers that must appear exactly once (Max-Forwards and
// Content-Length at most once).
var singletons = []struct {
	name     string
	required bool
}{
	{"To", true}, {"From", true}, {"Call-ID", true}, {"CSeq", true},
	{"Max-Forwards", false}, {"Content-Length", false},
}

func checkSingletons(req *sip.Request) (int, string) {
	var counts [6]int // singletons' order; counted in one pass, no slices
	for _, h := range req.Headers() {
		for i, s := range singletons {
			if strings.EqualFold(h.Name(), s.name) {
				counts[i]++
			}
		}
	}
	for i, s := range singletons {
		n := counts[i]
		if n > 1 {
			return 400, "Duplicate " + s.name
		}
		if n == 0 && s.required {
			return 400, "Missing " + s.name
		}
	}
	if req.Via() == nil {
		return 400, "Missing Via"
	}
	return 0, ""
}

// checkCSeq compares the CSeq method with the request line's. sipgo v1.7.2
// upper-cases the request-line method (parser.go, parseRequestLine) but
// keeps the CSeq method as sent, though methods are case-sensitive (RFC
// 3261 §7.1); so an extension method with lower-case letters (RFC 4475
// §3.1.1.2, intmeth) looked mismatched. Not fixed upstream as of v1.7.2 (to
// report at github.com/emiago/sipgo). The original spelling is lost, so the
// comparison ignores case.
func checkCSeq(req *sip.Request) (int, string) {
	cseq := req.CSeq()
	if cseq == nil || !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return 400, "CSeq Method Mismatch"
	}
	return 0, ""
}

// checkHeaderBytes drops requests with CR or LF left in a header value or
// name (NUL too, outside To and From where RFC 4475 allows it quoted).
func checkHeaderBytes(req *sip.Request) (int, string) {
	for _, h := range req.Headers() {
		bad := "\r\n"
		if n := h.Name(); n != "To" && n != "From" {
			bad = "\x00\r\n"
		}
		if hasCtl(h, bad) || strings.ContainsAny(h.Name(), "\x00\r\n :") {
			return dropRequest, "control character in header"
		}
	}
	if uriCtl(&req.Recipient, "\x00\r\n") {
		return dropRequest, "control character in Request-URI"
	}
	return 0, ""
}

func checkSemantics(req *sip.Request) (int, string) {
	if s := strings.ToLower(req.Recipient.Scheme); s != "sip" && s != "sips" {
		return 416, "Unsupported URI Scheme"
	}
	if req.Recipient.Headers.Length() > 0 {
		return 400, "Headers In Request-URI" // RFC 3261 §19.1.1; RFC 4475 §3.1.2.10
	}
	if from := req.From(); from == nil || from.Address.Host == "" {
		return 400, "Bad From"
	}
	if to := req.To(); to == nil || to.Address.Host == "" && to.Address.Raw() == "" {
		return 400, "Bad To"
	}
	if _, ok := req.From().Params.Get("tag"); !ok && req.Method != sip.REGISTER {
		return 400, "Missing From Tag"
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.OPTIONS {
		return 483, "Too Many Hops"
	}
	return 0, ""
}

// unsupportedRequire returns the option tags of Require we do not support
// (all of them: no 100rel, no timer); checked on INVITE and in-dialog
// requests, never on ACK or CANCEL.
func unsupportedRequire(req *sip.Request) []string {
	if req.IsAck() || req.IsCancel() {
		return nil
	}
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
