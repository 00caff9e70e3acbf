package ws

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// TestTURNCredentialVector checks the coturn REST password against a value
// computed independently, once, with OpenSSL:
//
//	printf '%s' '1767225600:alice' | openssl dgst -sha1 -hmac 'north-wind-7' -binary | base64
//	RCFjnDk41/+XOKZM3oRa9iepm4M=
func TestTURNCredentialVector(t *testing.T) {
	user, pass := turnCredential([]byte("north-wind-7"), "alice", time.Unix(1767225600, 0))
	if user != "1767225600:alice" || pass != "RCFjnDk41/+XOKZM3oRa9iepm4M=" {
		t.Fatalf("got %q / %q", user, pass)
	}
}

func TestTURNConfigValidate(t *testing.T) {
	t.Setenv("SIGBRIDGE_TEST_TURN_SECRET", "s3cret")
	t.Setenv("SIGBRIDGE_TEST_TURN_EMPTY", "")
	turn := func(urls []string, env string, ttl time.Duration) Config {
		return Config{TURN: TURNConfig{URLs: urls, SecretEnv: env, TTL: ttl}}
	}
	urls := []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"}
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"off", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"on", turn(urls, "SIGBRIDGE_TEST_TURN_SECRET", 10*time.Minute), ""},
		{"default ttl", turn(urls, "SIGBRIDGE_TEST_TURN_SECRET", 0), ""},
		{"stun with no credential", Config{ICEServers: []ICEServer{{URLs: []string{"stun:stun.example.org"}}}}, ""},
		{"env unset", turn(urls, "SIGBRIDGE_TEST_TURN_NOPE", 0), "SIGBRIDGE_TEST_TURN_NOPE is not set"},
		{"env empty", turn(urls, "SIGBRIDGE_TEST_TURN_EMPTY", 0), "SIGBRIDGE_TEST_TURN_EMPTY is not set or empty"},
		{"no secret_env", turn(urls, "", 0), "turn.secret_env is empty"},
		{"secret_env without urls", turn(nil, "SIGBRIDGE_TEST_TURN_SECRET", 0), "turn.urls is empty"},
		{"stun url", turn([]string{"stun:stun.example.org"}, "SIGBRIDGE_TEST_TURN_SECRET", 0), "not a turn: or turns: URL"},
		{"ttl below 1s", turn(urls, "SIGBRIDGE_TEST_TURN_SECRET", 500*time.Millisecond), "whole seconds"},
		{"ttl fraction", turn(urls, "SIGBRIDGE_TEST_TURN_SECRET", 1500*time.Millisecond), "whole seconds"},
		{"static TURN password", Config{ICEServers: []ICEServer{
			{URLs: []string{"TURN:turn.example.org"}, Username: "u", Credential: "p"}}}, "static username/credential"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// turnServer returns the entry with turn: URLs of an iceServers list.
func turnServer(t *testing.T, m wstest.Message) (username, credential string) {
	t.Helper()
	list, _ := m["iceServers"].([]any)
	for _, e := range list {
		s := e.(map[string]any)
		urls, _ := s["urls"].([]any)
		if len(urls) > 0 && strings.HasPrefix(urls[0].(string), "turn:") {
			u, _ := s["username"].(string)
			c, _ := s["credential"].(string)
			return u, c
		}
	}
	t.Fatalf("no turn server in %v", m)
	return "", ""
}

// checkMinted checks that username is "<expiry>:user" with the expiry ttl
// from now, and that the credential is the HMAC of it.
func checkMinted(t *testing.T, username, credential, user string, ttl time.Duration) int64 {
	t.Helper()
	exp, name, ok := strings.Cut(username, ":")
	if !ok || name != user {
		t.Fatalf("username %q, want <expiry>:%s", username, user)
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		t.Fatalf("username %q: %v", username, err)
	}
	if want := time.Now().Add(ttl).Unix(); e < want-3 || e > want+2 {
		t.Fatalf("expiry %d, want about %d", e, want)
	}
	if _, want := turnCredential([]byte("s3cret"), user, time.Unix(e, 0)); credential != want {
		t.Fatalf("credential %q, want %q", credential, want)
	}
	return e
}

var turnTestConfig = TURNConfig{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, SecretEnv: "SIGBRIDGE_TEST_TURN_SECRET"}

// TestTURNCredentialsOnLogin: credentials are minted for the logged-in
// name; unknown users (before username, without a token) get none, plain
// MDN clients never get an ice-servers message, authenticated ones get
// theirs in the id greeting.
func TestTURNCredentialsOnLogin(t *testing.T) {
	t.Setenv("SIGBRIDGE_TEST_TURN_SECRET", "s3cret")
	stun := ICEServer{URLs: []string{"stun:stun.example.org:3478"}}
	tc := turnTestConfig
	tc.TTL = 10 * time.Minute
	h := newHarness(t, Config{ICEServers: []ICEServer{stun}, TURN: tc}, gateway.Config{})

	c := h.dial(nil)
	id := expect(t, c, "id")
	if list, _ := id["iceServers"].([]any); len(list) != 1 {
		t.Fatalf("id before login: iceServers %v, want the STUN server only", id["iceServers"])
	}
	c.Name = "alice"
	send(t, c, map[string]any{"type": "username", "name": "alice", "id": id.Int("id"), "features": []string{"callId"}})
	m := expect(t, c, "ice-servers")
	if m.Int("ttl") != 600 {
		t.Fatalf("ttl %v, want 600", m["ttl"])
	}
	u, p := turnServer(t, m)
	checkMinted(t, u, p, "alice", tc.TTL)
	// A rename mints for the new name.
	send(t, c, map[string]any{"type": "username", "name": "alicia", "id": id.Int("id"), "features": []string{"callId"}})
	u, p = turnServer(t, expect(t, c, "ice-servers"))
	checkMinted(t, u, p, "alicia", tc.TTL)

	plain := h.login("bob", nil)
	expectNone(t, plain, "ice-servers", 200*time.Millisecond)
}

func TestTURNCredentialsInGreetingWithToken(t *testing.T) {
	t.Setenv("SIGBRIDGE_TEST_TURN_SECRET", "s3cret")
	h := newHarness(t, Config{TokenSecret: secret, TURN: turnTestConfig}, gateway.Config{})
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), claims("carol", time.Hour))
	c, _, err := wstest.Dial(ctxT(t), h.url("/ws")+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	u, p := turnServer(t, expect(t, c, "id"))
	checkMinted(t, u, p, "carol", DefaultTURNTTL)
}

// TestTURNRefresh: with a short TTL an opted-in client gets fresh
// credentials before the ones it has expire; a plain client gets none.
func TestTURNRefresh(t *testing.T) {
	t.Setenv("SIGBRIDGE_TEST_TURN_SECRET", "s3cret")
	tc := turnTestConfig
	tc.TTL = 5 * time.Second // refreshes at 4 s: 1 s of margin on a loaded machine
	h := newHarness(t, Config{TURN: tc}, gateway.Config{})
	alice := h.login("alice", ext)
	plain := h.login("bob", nil)
	u, p := turnServer(t, expect(t, alice, "ice-servers"))
	first := checkMinted(t, u, p, "alice", tc.TTL)
	for i := range 2 {
		m := expect(t, alice, "ice-servers")
		now := time.Now()
		u, p := turnServer(t, m)
		next := checkMinted(t, u, p, "alice", tc.TTL)
		if now.After(time.Unix(first, 0)) {
			t.Fatalf("refresh %d at %v, after the expiry %d of the previous credential", i, now, first)
		}
		if next <= first-1 {
			t.Fatalf("refresh %d: expiry %d not later than %d", i, next, first)
		}
		first = next
	}
	expectNone(t, plain, "ice-servers", 100*time.Millisecond)
}

// TestStaticTURNPasswordNeverSent: a server built from a configuration
// that puts a TURN password in ice_servers (sigbridge serve refuses it)
// drops that entry and keeps the others.
func TestStaticTURNPasswordNeverSent(t *testing.T) {
	ice := []ICEServer{{URLs: []string{"stun:stun.example.org"}},
		{URLs: []string{"turn:turn.example.org"}, Username: "u", Credential: "static-password"}}
	h := newHarness(t, Config{ICEServers: ice}, gateway.Config{})
	c := h.dial(nil)
	m := expect(t, c, "id")
	list, _ := m["iceServers"].([]any)
	if len(list) != 1 || strings.Contains(fmt.Sprint(m), "static-password") {
		t.Fatalf("iceServers %v", m["iceServers"])
	}
	c.Name = "alice"
	send(t, c, map[string]any{"type": "username", "name": "alice", "id": m.Int("id"), "features": []string{"callId"}})
	if got := expect(t, c, "ice-servers"); strings.Contains(fmt.Sprint(got), "static-password") {
		t.Fatalf("ice-servers %v", got)
	}
}
