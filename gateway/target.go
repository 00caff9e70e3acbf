package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Target schemes.
const (
	SchemeUser = "user" // a browser user connected to this gateway: "alice"
	SchemeSIP  = "sip"  // "sip:bob@pbx.example.org" (also "sips:")
	SchemeXMPP = "xmpp" // "xmpp:juliet@example.org"
	SchemeTel  = "tel"  // "+15551234" or "tel:+15551234"
)

// MaxTargetLen bounds a target string.
const MaxTargetLen = 256

var (
	userNameRE = regexp.MustCompile(`^[\p{L}\p{N}._~-]{1,64}$`)
	telRE      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Target is a parsed call destination.
type Target struct {
	Raw    string // as given
	Scheme string // one of the Scheme constants
	User   string // user name, SIP user part, JID local part or E.164 number
	Host   string // SIP host[:port] or XMPP domain; empty for users and tel
	Secure bool   // sips:
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
	return t.Scheme + ":" + joinUserHost(t.User, t.Host)
}

func sipString(t Target) string {
	s := "sip:"
	if t.Secure {
		s = "sips:"
	}
	return s + joinUserHost(t.User, t.Host)
}

func joinUserHost(user, host string) string {
	if user == "" {
		return host
	}
	return user + "@" + host
}

// IsUserName reports whether s is a valid browser user name.
func IsUserName(s string) bool { return userNameRE.MatchString(s) }

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
		return parseURI(SchemeXMPP, rest, false)
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
