package sip

import (
	"io"
	"net/netip"

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
// its body is converted to a string (a copy) where it is written as is
// here.
func writeRequest(w wireWriter, req *sip.Request) {
	_, _ = w.WriteString(string(req.Method))
	_, _ = w.WriteString(" ")
	writeURI(w, &req.Recipient)
	_, _ = w.WriteString(" ")
	_, _ = w.WriteString(req.SipVersion)
	_, _ = w.WriteString("\r\n")
	req.MessageData.StringWrite(w) // the headers, each line ended with CRLF, compact or not
	_, _ = w.WriteString("\r\n")
	if b := req.Body(); b != nil {
		_, _ = w.Write(b)
	}
}

// writeURI writes u as sipgo's Uri.StringWrite does, without its
// allocations for the port (strconv.Itoa) and the parameters and headers
// (HeaderParams.ToString, a strings.Builder; ToStringWrite writes the
// same to w).
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
	if bracketsHost(u.Host) {
		_, _ = w.WriteString("[")
		_, _ = w.WriteString(u.Host)
		_, _ = w.WriteString("]")
	} else {
		_, _ = w.WriteString(u.Host)
	}
	if u.Port > 0 {
		_, _ = w.WriteString(":")
		writeDecimal(w, u.Port)
	}
	if u.UriParams != nil && u.UriParams.Length() > 0 {
		_, _ = w.WriteString(";")
		u.UriParams.ToStringWrite(';', w)
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

// writeDecimal writes n (>= 0) in decimal, as strconv.Itoa would, without
// building a string.
func writeDecimal(w io.StringWriter, n int) {
	if n >= 10 {
		writeDecimal(w, n/10)
	}
	d := n % 10
	_, _ = w.WriteString(decimalDigits[d : d+1])
}
