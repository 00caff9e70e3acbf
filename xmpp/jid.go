package xmpp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sigbridge/sigbridge/gateway"
	"mellium.im/xmpp/jid"
)

// ErrBadJID is returned for a JID or local part that cannot be mapped.
var ErrBadJID = errors.New("xmpp: bad JID")

// escapes lists the XEP-0106 escapable characters and their codes.
var escapes = map[byte]string{
	' ': `\20`, '"': `\22`, '&': `\26`, '\'': `\27`, '/': `\2f`,
	':': `\3a`, '<': `\3c`, '>': `\3e`, '@': `\40`, '\\': `\5c`,
}

// EscapeLocal applies XEP-0106 escaping to s for use as a JID local part.
// A backslash is escaped only when it starts something that would read as an
// escape sequence (XEP-0106 §4.2), so unescaping gives s back.
func EscapeLocal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		code, special := escapes[c]
		if special && (c != '\\' || isEscapeSeq(s[i:])) {
			b.WriteString(code)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// UnescapeLocal reverses EscapeLocal: every valid XEP-0106 sequence (\20,
// \22, \26, \27, \2f, \3a, \3c, \3e, \40, \5c, hex digits in either case) is
// replaced by its character; anything else is kept as is.
func UnescapeLocal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && isEscapeSeq(s[i:]) {
			b.WriteByte(unescapeSeq(s[i+1 : i+3]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isEscapeSeq reports whether s starts with a valid escape sequence.
func isEscapeSeq(s string) bool {
	if len(s) < 3 || s[0] != '\\' {
		return false
	}
	switch strings.ToLower(s[1:3]) {
	case "20", "22", "26", "27", "2f", "3a", "3c", "3e", "40", "5c":
		return true
	}
	return false
}

func unescapeSeq(hex2 string) byte {
	var v byte
	for _, c := range []byte(strings.ToLower(hex2)) {
		v <<= 4
		if c >= 'a' {
			v |= c - 'a' + 10
		} else {
			v |= c - '0'
		}
	}
	return v
}

// TargetForLocal maps the local part of a gateway JID to a router target
// (protocols.md §3.2). After XEP-0106 unescaping:
//
//	"sip:..." "sips:..." "tel:..."  used as is
//	"bob@pbx.example.org"            "sip:bob@pbx.example.org"
//	"alice", "+15551234"             a browser user, an E.164 number
//
// XMPP targets are refused: calling a JID through the gateway is a loop.
func TargetForLocal(local string) (string, error) {
	u := UnescapeLocal(local)
	switch {
	case u == "":
		return "", fmt.Errorf("%w: empty local part", ErrBadJID)
	case strings.HasPrefix(strings.ToLower(u), "xmpp:"):
		return "", fmt.Errorf("%w: %w: xmpp targets through the gateway", ErrBadJID, gateway.ErrForbidden)
	case hasScheme(u):
		return u, nil
	case strings.Contains(u, "@"):
		return "sip:" + u, nil // also user@host:port
	}
	return u, nil
}

// hasScheme reports whether s starts with a URI scheme ("sip:", "tel:"):
// letters, digits, "+", "-" or "." before the first ":", starting with a
// letter. "bob@127.0.0.1:5070" has none (its ":" is the port's).
func hasScheme(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || !isAlpha(scheme[0]) {
		return false
	}
	for i := 1; i < len(scheme); i++ {
		c := scheme[i]
		if !isAlpha(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// LocalForAddress maps a routable gateway address (a browser user name, a
// SIP or tel URI) to the JID local part that reaches it back: the inverse of
// TargetForLocal.
func LocalForAddress(addr string) string {
	t, err := gateway.ParseTarget(addr)
	if err != nil {
		return EscapeLocal(addr)
	}
	switch {
	case t.Scheme == gateway.SchemeSIP && !t.Secure && t.User != "":
		return EscapeLocal(t.User + "@" + t.Host)
	case t.Scheme == gateway.SchemeUser, t.Scheme == gateway.SchemeTel:
		return EscapeLocal(t.User)
	}
	return EscapeLocal(t.String())
}

// GatewayJID returns the JID of addr inside the gateway's domain, e.g.
// "sip:bob@pbx.example.org" -> bob\40pbx.example.org@gw.example.org.
func GatewayJID(addr, domain string) (jid.JID, error) {
	j, err := jid.New(LocalForAddress(addr), domain, "")
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: %q in %s: %w", ErrBadJID, addr, domain, err)
	}
	return j, nil
}

// TargetJID returns the JID an "xmpp:" target names: bare, or full when
// the target has a resource (a call straight to that device, no JMI).
func TargetJID(t gateway.Target) (jid.JID, error) {
	if t.Scheme != gateway.SchemeXMPP {
		return jid.JID{}, fmt.Errorf("%w: %s is not an xmpp target", ErrBadJID, t.String())
	}
	j, err := jid.New(t.User, t.Host, t.Resource)
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: %s: %w", ErrBadJID, t.String(), err)
	}
	return j, nil
}

// CallerAddress is the gateway address of an XMPP caller: "xmpp:" + bare JID.
func CallerAddress(j jid.JID) string { return "xmpp:" + j.Bare().String() }
