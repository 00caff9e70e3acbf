package sip

import (
	"io"

	"github.com/emiago/sipgo/sip"
)

// wireWriter is where writeRequest serialises a request: a bytes.Buffer,
// or a byteCount that only counts.
type wireWriter interface {
	io.StringWriter
	io.Writer
}

// writeRequest writes req exactly as sipgo's Request.StringWrite does
// (start line, headers, empty line, body) with fewer allocations: its
// start line goes through Uri.String, a strings.Builder grown several
// times, where the Request-URI is written to w here directly; its body
// is converted to a string (a copy) where it is written as is here.
func writeRequest(w wireWriter, req *sip.Request) {
	_, _ = w.WriteString(string(req.Method))
	_, _ = w.WriteString(" ")
	req.Recipient.StringWrite(w)
	_, _ = w.WriteString(" ")
	_, _ = w.WriteString(req.SipVersion)
	_, _ = w.WriteString("\r\n")
	req.MessageData.StringWrite(w) // the headers, each line ended with CRLF, compact or not
	_, _ = w.WriteString("\r\n")
	if b := req.Body(); b != nil {
		_, _ = w.Write(b)
	}
}
