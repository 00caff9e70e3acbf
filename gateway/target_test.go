package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in     string
		scheme string
		user   string
		host   string
		canon  string
		err    error
	}{
		{"alice", SchemeUser, "alice", "", "alice", nil},
		{"bob.smith-2", SchemeUser, "bob.smith-2", "", "bob.smith-2", nil},
		{"sip:bob@pbx.example.org", SchemeSIP, "bob", "pbx.example.org", "sip:bob@pbx.example.org", nil},
		{"SIP:bob@pbx.example.org:5070", SchemeSIP, "bob", "pbx.example.org:5070", "sip:bob@pbx.example.org:5070", nil},
		{"sips:bob@pbx.example.org", SchemeSIP, "bob", "pbx.example.org", "sips:bob@pbx.example.org", nil},
		{"xmpp:juliet@example.org", SchemeXMPP, "juliet", "example.org", "xmpp:juliet@example.org", nil},
		{"xmpp:user2@localhost/callee", SchemeXMPP, "user2", "localhost", "xmpp:user2@localhost/callee", nil},
		{"xmpp:juliet@example.org/balcony/2@home", SchemeXMPP, "juliet", "example.org", "xmpp:juliet@example.org/balcony/2@home", nil},
		{`xmpp:bob\40pbx.example.org@gw.example.org/x`, SchemeXMPP, `bob\40pbx.example.org`, "gw.example.org", `xmpp:bob\40pbx.example.org@gw.example.org/x`, nil},
		{"xmpp:example.org/res", SchemeXMPP, "", "example.org", "xmpp:example.org/res", nil},
		{"xmpp:juliet@example.org/", "", "", "", "", ErrBadTarget},
		{"xmpp:juliet@/res", "", "", "", "", ErrBadTarget},
		{"+15551234567", SchemeTel, "+15551234567", "", "tel:+15551234567", nil},
		{"tel:+15551234567", SchemeTel, "+15551234567", "", "tel:+15551234567", nil},
		{"", "", "", "", "", ErrBadTarget},
		{"al ice", "", "", "", "", ErrBadTarget},
		{"sip:a@b\r\nVia: x", "", "", "", "", ErrBadTarget},
		{"sip:@host", "", "", "", "", ErrBadTarget},
		{"sip:bob@", "", "", "", "", ErrBadTarget},
		{"http://x", "", "", "", "", ErrBadTarget},
		{"+1555", "", "", "", "", ErrBadTarget},
		{"tel:+0123456789", "", "", "", "", ErrBadTarget},
		{"a<b>", "", "", "", "", ErrBadTarget},
		{string(make([]byte, 300)), "", "", "", "", ErrBadTarget},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseTarget(%q) err = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tt.in, err)
			continue
		}
		if got.Scheme != tt.scheme || got.User != tt.user || got.Host != tt.host || got.String() != tt.canon {
			t.Errorf("ParseTarget(%q) = %+v (%s)", tt.in, got, got.String())
		}
	}
	for _, tt := range tests {
		want := tt.canon
		if tt.err != nil {
			want = tt.in // does not parse: kept as is
		}
		if got := CanonicalTarget(tt.in); got != want {
			t.Errorf("CanonicalTarget(%q) = %q, want %q", tt.in, got, want)
		}
	}
	for _, s := range []string{"sip:pbx.example.org", "sips:pbx.example.org", "sip:a@b@c", "sip:%41@host", "sip:bob@HOST"} {
		want := s
		if tg, err := ParseTarget(s); err == nil {
			want = tg.String()
		}
		if got := CanonicalTarget(s); got != want {
			t.Errorf("CanonicalTarget(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestRouterResolve(t *testing.T) {
	r := NewRouter()
	users := DialerFunc(func(context.Context, DialRequest) (Leg, error) { return nil, nil })
	r.Handle(SchemeUser, users)
	if _, d, err := r.Resolve("bob", "alice"); err != nil || d == nil {
		t.Fatalf("user target: %v", err)
	}
	_, _, err := r.Resolve("bob", "sip:carol@pbx.example.org")
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("unrouted sip target: err = %v, want ErrForbidden", err)
	}
	if code, _ := Status(err); code != 403 {
		t.Fatalf("unrouted sip: status %d, want 403", code)
	}
	r.SetPolicy(func(from string, tg Target) error {
		if from == "mallory" {
			return ErrForbidden
		}
		return nil
	})
	if _, _, err := r.Resolve("mallory", "alice"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("policy: err = %v", err)
	}
	if _, _, err := r.Resolve("bob", "not a target"); !errors.Is(err, ErrBadTarget) {
		t.Fatalf("bad target: err = %v", err)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		err  error
		code int
		cond string
	}{
		{ErrNotFound, 404, CondGone},
		{ErrOffline, 480, CondGone},
		{ErrForbidden, 403, CondSecurityError},
		{ErrDraining, 503, CondConnectivityError},
		{ErrSDPLimit, 413, CondIncompatibleParameters},
		{ErrBadSDP, 488, CondIncompatibleParameters},
		{ErrGlare, 409, CondGeneralError},
		{errors.New("other"), 500, CondGeneralError},
	}
	for _, tt := range tests {
		code, cond := Status(tt.err)
		if code != tt.code || cond != tt.cond {
			t.Errorf("Status(%v) = %d %s, want %d %s", tt.err, code, cond, tt.code, tt.cond)
		}
	}
}

func TestReasonMapping(t *testing.T) {
	for code, cond := range map[int]string{486: CondBusy, 600: CondBusy, 603: CondDecline, 404: CondGone,
		480: CondGone, 408: CondTimeout, 487: CondCancel, 488: CondIncompatibleParameters, 503: CondConnectivityError,
		500: CondGeneralError, 401: CondSecurityError} {
		if r := ReasonFromSIP(code); r.Condition != cond || r.Code != code {
			t.Errorf("ReasonFromSIP(%d) = %+v, want %s", code, r, cond)
		}
	}
	for cond, code := range map[string]int{CondBusy: 486, CondDecline: 603, CondCancel: 603, CondTimeout: 480,
		CondGone: 480, CondIncompatibleParameters: 488, CondGeneralError: 500, CondSecurityError: 488} {
		if got := (Reason{Condition: cond}).SIPCode(); got != code {
			t.Errorf("SIPCode(%s) = %d, want %d", cond, got, code)
		}
	}
	if got := (Reason{Condition: CondBusy, Code: 600}).SIPCode(); got != 600 {
		t.Errorf("explicit code lost: %d", got)
	}
}

// TestIsUserNameMatchesRegexp: IsUserName accepts exactly what the regular
// expression it replaced matches, on edge cases and on random strings of
// ASCII, Unicode letters, digits, marks, symbols and invalid UTF-8 (a
// fixed seed: the same strings every run).
func TestIsUserNameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[\p{L}\p{N}._~-]{1,64}$`)
	cases := []string{"", "a", "alice", "callee-17", "a.b_c~d-e", "Zoë", "名前", "١٢٣", "Ⅻ", "a b", "a@b",
		"a/b", "a\x00", "\xff", "a\xffb", "é\u0301", "😀", strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("é", 64), strings.Repeat("é", 65), strings.Repeat("名", 64) + "x"}
	valid, invalid := []rune("aZ09._~-é名١Ⅻ"), []rune("@ /:+\u0301😀\u00a0\u200b\ufffd")
	rng := rand.New(rand.NewPCG(11, 42))
	for range 5000 {
		n := rng.IntN(70)
		var b strings.Builder
		for range n {
			switch p := rng.IntN(100); {
			case p < 1:
				b.WriteByte(0xff)
			case p < 3:
				b.WriteRune(invalid[rng.IntN(len(invalid))])
			default:
				b.WriteRune(valid[rng.IntN(len(valid))])
			}
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := IsUserName(s), re.MatchString(s); got != want {
			t.Fatalf("IsUserName(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// TestTargetCanonical: canonical is String, and builds nothing for a
// target sent in canonical form (the end record of every call names it).
func TestTargetCanonical(t *testing.T) {
	for _, s := range []string{"alice", "sip:bob@pbx.example.org", "sips:pbx.example.org", "SIP:bob@pbx",
		"tel:+15551234", "+15551234", "xmpp:juliet@example.org/phone"} {
		tg, err := ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tg.canonical(), tg.String(); got != want {
			t.Errorf("%q: canonical %q, String %q", s, got, want)
		}
	}
	for _, s := range []string{"sip:bob@pbx.example.org", "tel:+15551234"} {
		tg, _ := ParseTarget(s)
		if n := testing.AllocsPerRun(100, func() { _ = tg.canonical() }); n != 0 {
			t.Errorf("%q: canonical allocates %v times", s, n)
		}
	}
}
