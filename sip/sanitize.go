package sip

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrUnsafeValue reports a value that must not go into a SIP header.
var ErrUnsafeValue = errors.New("sip: unsafe header value")

// maxHeaderValue bounds any header value we build from outside input.
const maxHeaderValue = 1024

// checkHeaderValue is the one validator for every header value built from
// input that came from the browser, XMPP or configuration: no CR, LF, NUL or
// other control characters (horizontal tab excepted), valid UTF-8, bounded.
func checkHeaderValue(s string) error {
	if len(s) > maxHeaderValue {
		return fmt.Errorf("%w: %d bytes", ErrUnsafeValue, len(s))
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not UTF-8", ErrUnsafeValue)
	}
	for i, r := range s {
		if isCTL(r) {
			return fmt.Errorf("%w: control character %U at %d", ErrUnsafeValue, r, i)
		}
	}
	return nil
}

func isCTL(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// quoteDisplayName renders s as a quoted-string display name; quotes and
// backslashes are escaped. s must have passed checkHeaderValue.
func quoteDisplayName(s string) string {
	return `"` + displayNameEscaper.Replace(s) + `"`
}

// displayNameEscaper is built once: a Replacer is safe for concurrent use,
// and building one per call was an eighth of the bytes a call allocated.
var displayNameEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// userUnreserved are the characters RFC 3261 allows unescaped in a user
// part, minus the ones we never want there (; ? & are separators in many
// dial plans and our egress policy refuses them).
const userSafe = "-_.!~*'()=+$,/"

// escapeUser percent-encodes everything but alphanumerics and userSafe, so
// any caller address ("xmpp:juliet@example.org") fits in a SIP user part.
func escapeUser(s string) string {
	i := 0
	for i < len(s) && userByteSafe(s[i]) {
		i++
	}
	if i == len(s) {
		return s // nothing to escape ("alice"): no copy
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if userByteSafe(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// userByteSafe reports whether escapeUser keeps c as it is.
func userByteSafe(c byte) bool { return isAlnum(c) || strings.IndexByte(userSafe, c) >= 0 }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// unescapeUser decodes %XX escapes of a SIP user part. It fails on a bad
// escape and on decoded control characters.
func unescapeUser(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, checkHeaderValue(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("%w: bad escape in user part", ErrUnsafeValue)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	out := b.String()
	return out, checkHeaderValue(out)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
