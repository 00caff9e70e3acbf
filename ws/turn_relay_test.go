package ws

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/pionpeer"
	"github.com/sigbridge/sigbridge/internal/turntest"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

const turnSecretEnv = "SIGBRIDGE_TEST_TURN_RELAY_SECRET"

// startTURN starts coturn with a fresh shared secret, puts the secret in
// the environment variable the gateway reads, and returns the TURN block.
func startTURN(t *testing.T, ttl time.Duration) (*turntest.Coturn, TURNConfig) {
	t.Helper()
	sec := "relay-secret-" + time.Now().Format("150405.000000000")
	t.Setenv(turnSecretEnv, sec)
	c := turntest.Start(t, sec)
	return c, TURNConfig{URLs: []string{c.URL()}, SecretEnv: turnSecretEnv, TTL: ttl}
}

// tokenLogin connects as user with a token and logs in the way the MDN page
// does; with ext the username carries features. It returns the client and
// the message that carried the TURN credentials: the id greeting for a
// plain client, the ice-servers after login for an extension client.
func tokenLogin(t *testing.T, h *harness, user string, ext bool) (*wstest.Client, wstest.Message) {
	t.Helper()
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), claims(user, time.Hour))
	c, _, err := wstest.Dial(ctxT(t), h.url("/ws")+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	id, err := c.WaitID(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c.Name = user
	msg := map[string]any{"type": "username", "name": user, "id": c.ID}
	if ext {
		msg["features"] = []string{"callId"}
	}
	send(t, c, msg)
	if _, err := c.Expect(ctxT(t), func(m wstest.Message) bool {
		return m.Type() == "userlist" && slices.Contains(m.Strings("users"), user)
	}); err != nil {
		t.Fatal(err)
	}
	if ext {
		return c, expect(t, c, "ice-servers")
	}
	return c, id
}

// relayPeer makes a peer forced to relay with the TURN server of m.
func relayPeer(t *testing.T, c *wstest.Client, m wstest.Message) *wstest.Peer {
	t.Helper()
	servers := wstest.ICEServers(m)
	if len(servers) != 1 || servers[0].Username == "" || servers[0].Credential == "" {
		t.Fatalf("%s: iceServers %v, want one TURN server with credentials", c.Name, m["iceServers"])
	}
	p, err := wstest.NewPeer(c, wstest.PeerOptions{ICEServers: servers, RelayOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	p.Start(ctxT(t))
	return p
}

// TestTURNRelayCall: two browser-dialect pion peers, forced to relay-only
// ICE, get per-user credentials from the gateway (alice as an extension
// client in ice-servers, bob as a plain MDN client with a token in the id
// greeting), call each other through the gateway and exchange data
// through coturn: the selected pair is relay on both sides.
func TestTURNRelayCall(t *testing.T) {
	coturn, tc := startTURN(t, 10*time.Minute)
	h := newHarness(t, Config{TokenSecret: secret, TURN: tc}, gateway.Config{})
	alice, am := tokenLogin(t, h, "alice", true)
	bob, bm := tokenLogin(t, h, "bob", false)
	pa, pb := relayPeer(t, alice, am), relayPeer(t, bob, bm)
	if err := pa.Call(ctxT(t), "bob"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*wstest.Peer{pa, pb} {
		select {
		case <-p.Connected():
		case err := <-p.Errors():
			t.Fatalf("%s: %v", p.Client.Name, err)
		case <-ctxT(t).Done():
			t.Fatalf("%s: ICE did not connect through the relay\n%s", p.Client.Name, coturn.LogTail())
		}
	}
	exchange(t, pa, pb, "hello bob")
	exchange(t, pb, pa, "hello alice")
	for _, p := range []*wstest.Peer{pa, pb} {
		pair, err := p.SelectedPair()
		if err != nil {
			t.Fatal(err)
		}
		if pair.Local.Typ != webrtc.ICECandidateTypeRelay || pair.Remote.Typ != webrtc.ICECandidateTypeRelay {
			t.Fatalf("%s: selected pair %s, want relay on both ends", p.Client.Name, pair)
		}
	}
	if log := coturn.LogTail(); !strings.Contains(log, ":alice") || !strings.Contains(log, ":bob") {
		t.Errorf("coturn log names neither user's credential:\n%s", log)
	}
}

// exchange sends text from a to b over the data channel and waits for it.
func exchange(t *testing.T, a, b *wstest.Peer, text string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		// The channel may not be open yet right after ICE connects: retry.
		_ = a.SendText(text)
		select {
		case got := <-b.Messages():
			if got == text {
				return
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s never received %q from %s", b.Client.Name, text, a.Client.Name)
		}
	}
}

// allocate performs a TURN Allocate on coturn with the credentials.
func allocate(t *testing.T, coturn *turntest.Coturn, username, password string) error {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: coturn.Addr, TURNServerAddr: coturn.Addr,
		Username: username, Password: password, Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		return err
	}
	return relay.Close()
}

// TestTURNExpiredCredentialRefused: a credential the gateway minted
// allocates on coturn while it is valid (a relay-only pion peer gathers a
// relay candidate) and is refused once its expiry has passed: the peer
// gathers no relay candidate and a raw Allocate gets 401 (or 438).
func TestTURNExpiredCredentialRefused(t *testing.T) {
	coturn, tc := startTURN(t, 5*time.Second) // room for the fresh checks on a loaded machine
	h := newHarness(t, Config{TokenSecret: secret, TURN: tc}, gateway.Config{})
	_, m := tokenLogin(t, h, "alice", true)
	srv := wstest.ICEServers(m)[0]
	if err := allocate(t, coturn, srv.Username, srv.Credential.(string)); err != nil {
		t.Fatalf("fresh credential %q refused: %v\n%s", srv.Username, err, coturn.LogTail())
	}
	if n := relayCandidates(t, srv); n == 0 {
		t.Fatalf("fresh credential: a relay-only peer gathered no relay candidate\n%s", coturn.LogTail())
	}
	exp := checkExpiry(t, srv.Username)
	for time.Now().Unix() <= exp+1 {
		time.Sleep(100 * time.Millisecond)
	}
	if n := relayCandidates(t, srv); n != 0 {
		t.Fatalf("expired credential: a relay-only peer gathered %d relay candidates", n)
	}
	err := allocate(t, coturn, srv.Username, srv.Credential.(string))
	var te *stun.TurnError
	if !errors.As(err, &te) || (te.ErrorCodeAttr.Code != stun.CodeUnauthorized && te.ErrorCodeAttr.Code != stun.CodeStaleNonce) {
		t.Fatalf("expired credential %q: got %v, want a 401 or 438 error response", srv.Username, err)
	}
	// A bad password for an unexpired name is refused too (the server
	// checks the HMAC, not only the time).
	name, _ := turnCredential([]byte("another secret"), "alice", time.Now().Add(time.Minute))
	if err := allocate(t, coturn, name, "bm90IHRoZSBwYXNzd29yZA=="); !errors.As(err, &te) {
		t.Fatalf("wrong password: got %v, want an error response", err)
	}
}

// relayCandidates gathers with a relay-only pion peer configured with srv
// and counts the relay candidates of its offer.
func relayCandidates(t *testing.T, srv webrtc.ICEServer) int {
	t.Helper()
	pc, err := pionpeer.NewAPI(nil).NewPeerConnection(webrtc.Configuration{ICEServers: []webrtc.ICEServer{srv},
		ICETransportPolicy: webrtc.ICETransportPolicyRelay})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel("probe", nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctxT(t).Done():
		t.Fatal("gathering did not complete")
	}
	return strings.Count(pc.LocalDescription().SDP, " typ relay")
}

func checkExpiry(t *testing.T, username string) int64 {
	t.Helper()
	exp, _, _ := strings.Cut(username, ":")
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		t.Fatalf("username %q: %v", username, err)
	}
	return e
}
