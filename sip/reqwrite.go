package sip

import (
	"io"
	"net/netip"
	"strings"

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
// times, where the Request-URI is written to w here directly (writeURI);
// its headers are written as writeHeaders does; its body is converted to
// a string (a copy) where it is written as is here.
func writeRequest(w wireWriter, req *sip.Request) {
	_, _ = w.WriteString(string(req.Method))
	_, _ = w.WriteString(" ")
	writeURI(w, &req.Recipient)
	_, _ = w.WriteString(" ")
	_, _ = w.WriteString(req.SipVersion)
	_, _ = w.WriteString("\r\n")
	writeHeaders(w, req) // each line ended with CRLF
	_, _ = w.WriteString("\r\n")
	if b := req.Body(); b != nil {
		_, _ = w.Write(b)
	}
}

// writeURI writes u as sipgo's Uri.StringWrite does, without its
// allocations for the port (strconv.Itoa) and the parameters and headers
// (HeaderParams.ToString, a strings.Builder; writeParams and
// ToStringWrite write the same to w).
func writeURI(w io.StringWriter, u *sip.Uri) {
	scheme := u.Scheme
	if scheme == "" {
		scheme = "sip"
	}
	_, _ = w.WriteString(scheme)
	_, _ = w.WriteString(":")
	if raw := u.Raw(); raw != "" { // tel: and other non-SIP URIs
		_, _ = w.WriteString(raw)
		return
	}
	if u.HierarhicalSlashes {
		_, _ = w.WriteString("//")
	}
	if u.User != "" {
		_, _ = w.WriteString(u.User)
		if u.Password != "" {
			_, _ = w.WriteString(":")
			_, _ = w.WriteString(u.Password)
		}
		_, _ = w.WriteString("@")
	}
	writeHostPort(w, u.Host, u.Port)
	if u.UriParams != nil && u.UriParams.Length() > 0 {
		_, _ = w.WriteString(";")
		writeParams(w, u.UriParams)
	}
	if u.Headers != nil && u.Headers.Length() > 0 {
		_, _ = w.WriteString("?")
		u.Headers.ToStringWrite('&', w)
	}
}

// bracketsHost reports whether sipgo writes host in brackets: an IPv6
// address without them (not IPv4-mapped, no zone: net.ParseIP's reading).
// sipgo first rejects a host quickly by comparing the byte offsets of its
// runes (not the runes) with '.' and ':': one with a rune at offset 46
// before any at 58 is never bracketed, which this keeps.
func bracketsHost(host string) bool {
	if strings.IndexByte(host, ':') < 0 {
		return false // not IPv6; a host name would cost ParseAddr an error (allocated)
	}
	for i := range host {
		if i == '.' {
			return false
		}
		if i == ':' {
			break
		}
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is6() && !a.Is4In6() && a.Zone() == ""
}

// decimalDigits are the digits writeDecimal writes, one substring each.
const decimalDigits = "0123456789"

// writeHostPort writes host, in brackets when sipgo would bracket it (an
// IPv6 address: bracketsHost), and ":port" when port is set, as sipgo's
// URI and Via writers do.
func writeHostPort(w io.StringWriter, host string, port int) {
	if bracketsHost(host) {
		_, _ = w.WriteString("[")
		_, _ = w.WriteString(host)
		_, _ = w.WriteString("]")
	} else {
		_, _ = w.WriteString(host)
	}
	if port > 0 {
		_, _ = w.WriteString(":")
		writeDecimal(w, port)
	}
}

// writeDecimal writes n (>= 0) in decimal, as strconv.Itoa would, without
// building a string.
func writeDecimal(w io.StringWriter, n int) {
	if n >= 10 {
		writeDecimal(w, n/10)
	}
	d := n % 10
	_, _ = w.WriteString(decimalDigits[d : d+1])
}

// writeHeaders writes req's headers as sipgo's headers.StringWrite does,
// each line ended with CRLF, without the allocations of its Via, From, To,
// Contact, CSeq and Content-Length writers: a string for each number
// (strconv.Itoa: ports, CSeq, length) and for each parameter list (its
// separator, string(';')), and the Uri writer's (writeURI). Every request
// we send over UDP is written by it, some twice (wireSize). Other headers,
// and every header in compact form, are sipgo's own writers.
func writeHeaders(w io.StringWriter, req *sip.Request) {
	if req.CompactHeaders {
		req.MessageData.StringWrite(w)
		return
	}
	for i, h := range req.Headers() {
		if i > 0 {
			_, _ = w.WriteString("\r\n")
		}
		writeHeader(w, h)
	}
	_, _ = w.WriteString("\r\n")
}

// writeHeader writes "Name: value" as h.StringWrite does.
func writeHeader(w io.StringWriter, h sip.Header) {
	switch h := h.(type) {
	case *sip.ViaHeader:
		_, _ = w.WriteString("Via: ")
		writeVia(w, h)
	case *sip.FromHeader:
		_, _ = w.WriteString("From: ")
		writeNameAddr(w, h.DisplayName, &h.Address, h.Params)
	case *sip.ToHeader:
		_, _ = w.WriteString("To: ")
		writeNameAddr(w, h.DisplayName, &h.Address, h.Params)
	case *sip.ContactHeader:
		_, _ = w.WriteString("Contact: ")
		if h.Address.Wildcard {
			_, _ = w.WriteString("*")
			return
		}
		writeNameAddr(w, h.DisplayName, &h.Address, h.Params)
	case *sip.CSeqHeader:
		_, _ = w.WriteString("CSeq: ")
		writeDecimal(w, int(h.SeqNo))
		_, _ = w.WriteString(" ")
		_, _ = w.WriteString(string(h.MethodName))
	case *sip.ContentLengthHeader:
		_, _ = w.WriteString("Content-Length: ")
		writeDecimal(w, int(*h))
	default:
		h.StringWrite(w)
	}
}

// writeVia writes a Via value as sipgo's ViaHeader does.
func writeVia(w io.StringWriter, h *sip.ViaHeader) {
	_, _ = w.WriteString(h.ProtocolName)
	_, _ = w.WriteString("/")
	_, _ = w.WriteString(h.ProtocolVersion)
	_, _ = w.WriteString("/")
	_, _ = w.WriteString(h.Transport)
	_, _ = w.WriteString(" ")
	writeHostPort(w, h.Host, h.Port)
	if len(h.Params) > 0 {
		_, _ = w.WriteString(";")
		writeParams(w, h.Params)
	}
}

// writeNameAddr writes a From, To or Contact value as sipgo does: the
// display name always quoted, the URI in angle brackets, the parameters.
func writeNameAddr(w io.StringWriter, display string, u *sip.Uri, params sip.HeaderParams) {
	if display != "" {
		_, _ = w.WriteString("\"")
		_, _ = w.WriteString(display)
		_, _ = w.WriteString("\" ")
	}
	_, _ = w.WriteString("<")
	writeURI(w, u)
	_, _ = w.WriteString(">")
	if len(params) > 0 {
		_, _ = w.WriteString(";")
		writeParams(w, params)
	}
}

// writeParams writes header parameters as sipgo's
// HeaderParams.ToStringWrite(';', w) does: a value with white space is
// quoted.
func writeParams(w io.StringWriter, params sip.HeaderParams) {
	for i, kv := range params {
		if i > 0 {
			_, _ = w.WriteString(";")
		}
		_, _ = w.WriteString(kv.K)
		if kv.V == "" {
			continue
		}
		if strings.ContainsAny(kv.V, " \t") {
			_, _ = w.WriteString("=\"")
			_, _ = w.WriteString(kv.V)
			_, _ = w.WriteString("\"")
		} else {
			_, _ = w.WriteString("=")
			_, _ = w.WriteString(kv.V)
		}
	}
}
