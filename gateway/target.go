package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Target schemes.
const (
	SchemeUser = "user" // a browser user connected to this gateway: "alice"
	SchemeSIP  = "sip"  // "sip:bob@pbx.example.org" (also "sips:")
	SchemeXMPP = "xmpp" // "xmpp:juliet@example.org" or a full JID "xmpp:juliet@example.org/phone"
	SchemeTel  = "tel"  // "+15551234" or "tel:+15551234"
)

// MaxTargetLen bounds a target string.
const MaxTargetLen = 256

var telRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// maxUserNameRunes bounds a browser user name (characters).
const maxUserNameRunes = 64

// Target is a parsed call destination.
type Target struct {
	Raw    string // as given
	Scheme string // one of the Scheme constants
	User   string // user name, SIP user part, JID local part or E.164 number
	Host   string // SIP host[:port] or XMPP domain; empty for users and tel
	Secure bool   // sips:
	// Resource is the resource of a full-JID xmpp: target (everything
	// after the first "/", RFC 7622 §3.1); empty for a bare JID and for
	// every other scheme.
	Resource string
}

// String returns the canonical form of the target.
func (t Target) String() string {
	switch t.Scheme {
	case SchemeUser:
		return t.User
	case SchemeTel:
		return "tel:" + t.User
	case SchemeSIP:
		return sipString(t)
	}
	s := t.Scheme + ":" + joinUserHost(t.User, t.Host)
	if t.Resource != "" {
		s += "/" + t.Resource
	}
	return s
}

func sipString(t Target) string {
	s := "sip:"
	if t.Secure {
		s = "sips:"
	}
	if t.User == "" {
		return s + t.Host
	}
	return s + t.User + "@" + t.Host // one allocation
}

// CanonicalTarget returns the canonical form of the target s (Target.String)
// and s itself when it does not parse. An s already in canonical form (what
// a browser sends with each message of a call) is returned without
// building its copy.
func CanonicalTarget(s string) string {
	t, err := ParseTarget(s)
	if err != nil {
		return s
	}
	return t.canonical()
}

// canonical is t.String(), without building it when t.Raw is already
// in canonical form (what callers send): a call names its target in its
// end record, one allocation per call otherwise.
func (t Target) canonical() string {
	if t.Raw != "" && t.isString(t.Raw) {
		return t.Raw
	}
	return t.String()
}

// isString reports whether t.String() == s, for the forms that
// canonicalize most often (user names, sip: and sips: URIs, tel: numbers),
// without building t.String(); it reports false for the others.
func (t Target) isString(s string) bool {
	switch t.Scheme {
	case SchemeUser:
		return s == t.User
	case SchemeTel:
		rest, ok := strings.CutPrefix(s, "tel:")
		return ok && rest == t.User
	case SchemeSIP:
		prefix := "sip:"
		if t.Secure {
			prefix = "sips:"
		}
		rest, ok := strings.CutPrefix(s, prefix)
		if !ok {
			return false
		}
		if t.User == "" {
			return rest == t.Host
		}
		user, host, ok := strings.Cut(rest, "@")
		return ok && user == t.User && host == t.Host
	}
	return false
}

func joinUserHost(user, host string) string {
	if user == "" {
		return host
	}
	return user + "@" + host
}

// IsUserName reports whether s is a valid browser user name: 1 to 64
// letters, digits (Unicode categories L and N) and "._~-", what the
// regular expression `^[\p{L}\p{N}._~-]{1,64}$` matches. A loop, not that
// expression: it runs for every call message a browser sends (its target),
// where the regexp engine was 2-4 % of a call's CPU.
func IsUserName(s string) bool {
	n := 0
	for _, r := range s {
		if n++; n > maxUserNameRunes || !userNameRune(r) {
			return false
		}
	}
	return n > 0
}

func userNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			r == '.' || r == '_' || r == '~' || r == '-'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// ParseTarget parses a target string. It rejects control characters and white
// space anywhere, so nothing parsed here can inject into another protocol's
// header.
func ParseTarget(s string) (Target, error) {
	if s == "" || len(s) > MaxTargetLen {
		return Target{}, fmt.Errorf("%w: length %d", ErrBadTarget, len(s))
	}
	if i := strings.IndexFunc(s, badTargetRune); i >= 0 {
		return Target{}, fmt.Errorf("%w: control or space character at %d", ErrBadTarget, i)
	}
	t, err := parseTarget(s)
	t.Raw = s
	return t, err
}

func badTargetRune(r rune) bool {
	return unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar
}

func parseTarget(s string) (Target, error) {
	scheme, rest, hasScheme := strings.Cut(s, ":")
	if !hasScheme {
		return parseBare(s)
	}
	switch strings.ToLower(scheme) {
	case "sip":
		return parseURI(SchemeSIP, rest, false)
	case "sips":
		return parseURI(SchemeSIP, rest, true)
	case "xmpp":
		return parseJID(rest)
	case "tel":
		return parseTel(rest)
	}
	return Target{}, fmt.Errorf("%w: unknown scheme %q", ErrBadTarget, scheme)
}

func parseBare(s string) (Target, error) {
	if strings.HasPrefix(s, "+") {
		return parseTel(s)
	}
	if !IsUserName(s) {
		return Target{}, fmt.Errorf("%w: %q is not a user name", ErrBadTarget, s)
	}
	return Target{Scheme: SchemeUser, User: s}, nil
}

func parseTel(s string) (Target, error) {
	if !telRE.MatchString(s) {
		return Target{}, fmt.Errorf("%w: %q is not an E.164 number", ErrBadTarget, s)
	}
	return Target{Scheme: SchemeTel, User: s}, nil
}

func parseURI(scheme, rest string, secure bool) (Target, error) {
	user, host, hasUser := strings.Cut(rest, "@")
	if !hasUser {
		user, host = "", rest
	}
	if host == "" || (hasUser && user == "") {
		return Target{}, fmt.Errorf("%w: %s URI needs user@host", ErrBadTarget, scheme)
	}
	if strings.ContainsAny(host, "@<>\"") {
		return Target{}, fmt.Errorf("%w: bad host %q", ErrBadTarget, host)
	}
	return Target{Scheme: scheme, User: user, Host: host, Secure: secure}, nil
}

// parseJID splits a JID the RFC 7622 way: the resource is everything after
// the first "/" (it may contain "@" and "/"), the local part is what comes
// before an "@" in front of it. XEP-0106 escapes in the local part
// (bob\40pbx.example.org) are kept as they are.
func parseJID(rest string) (Target, error) {
	bare, resource, full := strings.Cut(rest, "/")
	if full && resource == "" {
		return Target{}, fmt.Errorf("%w: xmpp URI with an empty resource", ErrBadTarget)
	}
	t, err := parseURI(SchemeXMPP, bare, false)
	if err != nil {
		return t, err
	}
	if strings.ContainsAny(t.Host, ":") {
		return Target{}, fmt.Errorf("%w: bad XMPP domain %q", ErrBadTarget, t.Host)
	}
	t.Resource = resource
	return t, nil
}
