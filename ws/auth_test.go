package ws

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

const secret = "correct horse battery staple"

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(sub string, exp time.Duration, extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(exp).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func TestAuthRefusedBeforeUpgrade(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	noExp := jwt.MapClaims{"sub": "alice"}
	cases := []struct {
		name  string
		token func(t *testing.T) string
	}{
		{"no token", func(*testing.T) string { return "" }},
		{"garbage", func(*testing.T) string { return "not.a.jwt" }},
		{"expired", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("alice", -time.Minute))
		}},
		{"missing exp", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, []byte(secret), noExp) }},
		{"wrong secret", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte("guess"), claims("alice", time.Hour))
		}},
		{"alg none", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("alice", time.Hour))
		}},
		{"alg HS384 not in the allowlist", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS384, []byte(secret), claims("alice", time.Hour))
		}},
		{"alg ES256", func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, ecKey, claims("alice", time.Hour)) }},
		{"wrong audience", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("alice", time.Hour, "aud", "other", "iss", "sigbridge-test"))
		}},
		{"wrong issuer", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("alice", time.Hour, "aud", "sigbridge", "iss", "evil"))
		}},
		{"subject not a user name", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("sip:alice@x", time.Hour, "aud", "sigbridge", "iss", "sigbridge-test"))
		}},
		{"exp as a string", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": "alice", "exp": "9999999999",
				"aud": "sigbridge", "iss": "sigbridge-test"})
		}},
		{"nbf as a string", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("alice", time.Hour, "nbf", "0", "aud", "sigbridge", "iss", "sigbridge-test"))
		}},
		{"iat as a string", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("alice", time.Hour, "iat", "0", "aud", "sigbridge", "iss", "sigbridge-test"))
		}},
		{"exp null", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": "alice", "exp": nil,
				"aud": "sigbridge", "iss": "sigbridge-test"})
		}},
		{"not yet valid", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(secret), claims("alice", time.Hour, "nbf", time.Now().Add(time.Hour).Unix()))
		}},
	}
	h := newHarness(t, Config{TokenSecret: secret, TokenAudience: "sigbridge", TokenIssuer: "sigbridge-test"}, gateway.Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token(t)
			before := h.errorCount("401")
			c, resp, err := wstest.Dial(ctxT(t), h.url("/ws")+"?token="+url.QueryEscape(tok), nil)
			if err == nil {
				_ = c.Close()
				t.Fatal("socket opened")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("response %v, want 401", resp)
			}
			if h.errorCount("401") != before+1 {
				t.Fatal("401 not counted")
			}
			if tok != "" && strings.Contains(h.logs.String(), tok) {
				t.Fatal("token in the log")
			}
		})
	}
}

func TestAuthValid(t *testing.T) {
	h := newHarness(t, Config{TokenSecret: secret, TokenAlgorithms: []string{"HS512", "RS256"}}, gateway.Config{})
	tok := sign(t, jwt.SigningMethodHS512, []byte(secret), claims("alice", time.Hour))
	alice, _, err := wstest.Dial(ctxT(t), h.url("/ws")+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alice.Close() })
	// The identity is logged in at once; a different username is answered
	// with rejectusername carrying the identity (the MDN page adopts it).
	got, err := alice.Login(ctxT(t), "mallory", nil)
	if err != nil || got != "alice" {
		t.Fatalf("login as mallory gave %q, %v", got, err)
	}
	// An Authorization header works for non-browser clients.
	hdr := http.Header{"Authorization": {"Bearer " + sign(t, jwt.SigningMethodHS512, []byte(secret), claims("bob", time.Hour))}}
	bob := h.dial(&wstest.Options{Header: hdr})
	if got, err := bob.Login(ctxT(t), "bob", nil); err != nil || got != "bob" {
		t.Fatalf("bob: %q, %v", got, err)
	}
	// A name in a payload never changes who sent it.
	send(t, alice, map[string]any{"type": "message", "name": "bob", "text": "hi"})
	if m := expect(t, bob, "message"); m.Str("name") != "alice" {
		t.Fatalf("chat from %q", m.Str("name"))
	}
	// The same identity twice: the second connection is refused (409) and closed.
	dup, _, err := wstest.Dial(ctxT(t), h.url("/ws")+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	expectError(t, dup, 409, "")
	var ce *websocket.CloseError
	if err := dup.WaitClosed(ctxT(t)); !asCloseError(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("duplicate closed with %v", err)
	}
	if strings.Contains(h.logs.String(), tok) {
		t.Fatal("token in the log")
	}
	if !strings.Contains(h.logs.String(), "ignoring token algorithm") {
		t.Fatal("RS256 in the allowlist was not reported")
	}
}

func TestOrigin(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no Origin header (non-browser)", nil, "", true},
		{"same host", nil, "SAME", true},
		{"same host, another port (the MDN sample's page)", nil, "http://127.0.0.1:3000", true},
		{"same host, IPv6 form of it", nil, "http://[::1]:3000", false},
		{"other host", nil, "https://evil.example", false},
		{"listed", []string{"https://app.example.org"}, "https://app.example.org", true},
		{"listed, case-insensitive", []string{"https://App.Example.org/"}, "https://app.example.org", true},
		{"not listed", []string{"https://app.example.org"}, "https://evil.example", false},
		{"wildcard", []string{"*"}, "https://evil.example", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{AllowedOrigins: tc.allowed}, gateway.Config{})
			origin := tc.origin
			if origin == "SAME" {
				origin = h.hs.URL
			}
			hdr := http.Header{}
			if origin != "" {
				hdr.Set("Origin", origin)
			}
			c, resp, err := wstest.Dial(ctxT(t), h.url("/ws"), &wstest.Options{Header: hdr})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				_ = c.Close()
				return
			}
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %v, want 403", err)
			}
		})
	}
}

func TestAllowedAlgorithms(t *testing.T) {
	log := discardLog()
	if got := allowedAlgorithms([]string{"none", "RS256"}, log); len(got) != 1 || got[0] != "HS256" {
		t.Fatalf("fallback %v", got)
	}
	if got := allowedAlgorithms([]string{"HS384", "none"}, log); len(got) != 1 || got[0] != "HS384" {
		t.Fatalf("filtered %v", got)
	}
}
