package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/internal/natstest"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// TestClusterThreeNodes: a real nats-server and three gateway nodes (in
// this process): names are unique across nodes, every node's user list
// shows every node's users, browser users on different nodes call each
// other with media both ways (both directions of ownership at once), and
// a NATS restart loses no call and leaves the cluster working.
func TestClusterThreeNodes(t *testing.T) {
	srv := natstest.Start(t)
	var nodes []*server
	for _, name := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, startNode(t, clusterTestConfig(srv.URL(), name)))
	}
	for _, s := range nodes {
		waitReadyz(t, "http://"+s.addr, 200)
	}
	ws := func(i int) string { return "ws://" + nodes[i].addr + "/ws" }

	watcher := login(t, ws(0), "watcher", true) // user-joined/user-left
	alice := login(t, ws(0), "alice", false)
	bob := login(t, ws(1), "bob", false)
	carol := login(t, ws(2), "carol", false)
	for _, b := range []*browser{alice, bob, carol} {
		waitUserlist(t, b, "everybody", has("alice", "bob", "carol"))
	}
	waitUserEvent(t, watcher, "user-joined", "carol")
	frank := login(t, ws(2), "frank", false)
	waitUserEvent(t, watcher, "user-joined", "frank")
	_ = frank.Client.Close()
	waitUserEvent(t, watcher, "user-left", "frank")
	// bob is taken on n2: on n1 the name gets altered (rejectusername).
	taken := rejectedName(t, ws(0), "bob")
	if taken == "bob" || taken == "" {
		t.Fatalf("a second bob on n1 got %q", taken)
	}
	bob2 := login(t, ws(0), taken, false)

	// alice (n1) calls bob (n2); carol (n3) calls the second bob (n1).
	if err := alice.Call(tctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	if err := carol.Call(tctx(t), bob2.Client.Name); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, alice, bob)
	waitMedia(t, carol, bob2)

	code, body := getQuiet("http://" + nodes[0].addr + "/metrics")
	if code != 200 || !strings.Contains(body, `sigbridge_cluster_remote_calls{node="n1",role="owner"} 1`) ||
		!strings.Contains(body, `sigbridge_cluster_remote_calls{node="n1",role="relay"} 1`) ||
		!strings.Contains(body, `sigbridge_calls_active{node="n1"} 1`) ||
		!strings.Contains(body, `sigbridge_cluster_dial_seconds_count{node="n1"} 1`) {
		t.Fatalf("n1 metrics lack the remote calls:\n%s", grepLines(body, "sigbridge_cluster_remote_calls", "sigbridge_calls_active",
			"sigbridge_cluster_dial_seconds_count"))
	}

	// NATS goes away: /readyz says so, the calls go on (media is direct).
	srv.Kill()
	for _, s := range nodes {
		waitReadyz(t, "http://"+s.addr, 503)
	}
	exchange(t, alice, bob, "without nats")
	if m := loginError(t, ws(0), "zed"); m.Int("code") != 503 {
		t.Fatalf("login without NATS: %v, want error 503", m)
	}
	srv.Restart()
	for _, s := range nodes {
		waitReadyz(t, "http://"+s.addr, 200)
	}
	noHangUp(t, alice, 3*time.Second) // longer than the node timeout: nobody was declared dead
	waitUserlist(t, alice, "everybody after the restart", has("alice", "bob", "carol", bob2.Client.Name))
	exchange(t, alice, bob, "after nats restart")
	exchange(t, carol, bob2, "after nats restart")

	// Hang-ups cross nodes, and the signaling still works: bob hangs up,
	// alice is told; a new call from bob to carol (n2 → n3) works.
	if err := bob.Client.Send(map[string]any{"type": "hang-up", "name": "bob", "target": "alice"}); err != nil {
		t.Fatal(err)
	}
	if m := waitHangUp(t, alice, 10*time.Second); m.Str("reason") != "success" || m.Str("name") != "bob" {
		t.Fatalf("alice's hang-up: %v, want success from bob", m)
	}
	dave := login(t, ws(1), "dave", false)
	erin := login(t, ws(2), "erin", false)
	waitUserlist(t, alice, "dave and erin", has("dave", "erin"))
	if err := dave.Call(tctx(t), "erin"); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, dave, erin)
}

// grepLines returns the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestClusterIdentityUnique: with tokens, an identity connected on one
// node is refused on another (error 409 and a close), and may connect
// there once it left the first.
func TestClusterIdentityUnique(t *testing.T) {
	srv := natstest.Start(t)
	const secret = "cluster test secret"
	var nodes []*server
	for _, name := range []string{"n1", "n2"} {
		cfg := clusterTestConfig(srv.URL(), name)
		cfg.WS.TokenSecret = secret
		nodes = append(nodes, startNode(t, cfg))
	}
	for _, s := range nodes {
		waitReadyz(t, "http://"+s.addr, 200)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	connect := func(s *server) *wstest.Client {
		c, _, err := wstest.Dial(tctx(t), "ws://"+s.addr+"/ws?token="+tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.WaitID(tctx(t)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := connect(nodes[0])
	if _, err := first.Expect(tctx(t), func(m wstest.Message) bool {
		return m.Type() == "userlist" && slices.Contains(m.Strings("users"), "alice")
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n2 sees alice", func() bool { return nodes[1].node.List(cluster.KindUser)["alice"] == "n1" })
	second := connect(nodes[1])
	m, err := second.ExpectType(tctx(t), "error")
	if err != nil || m.Int("code") != 409 {
		t.Fatalf("alice again on n2: %v %v, want error 409", m, err)
	}
	if err := second.WaitClosed(tctx(t)); err == nil || !strings.Contains(err.Error(), "1008") {
		t.Fatalf("second alice: %v, want close 1008", err)
	}
	_ = first.Close()
	waitFor(t, "alice gone from n2's view", func() bool { _, ok := nodes[1].node.List(cluster.KindUser)["alice"]; return !ok })
	third := connect(nodes[1])
	if _, err := third.Expect(tctx(t), func(m wstest.Message) bool {
		return m.Type() == "userlist" && slices.Contains(m.Strings("users"), "alice")
	}); err != nil {
		t.Fatalf("alice on n2 after leaving n1: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterNodeShutdown: a node that drains (SIGTERM) ends its calls
// with the others at once (not after the node timeout) and its users
// leave the other nodes' lists.
func TestClusterNodeShutdown(t *testing.T) {
	srv := natstest.Start(t)
	cfg1, cfg2 := clusterTestConfig(srv.URL(), "n1"), clusterTestConfig(srv.URL(), "n2")
	cfg1.Cluster.NodeTimeout, cfg2.Cluster.NodeTimeout = time.Minute, time.Minute // only bye can be quick
	n1 := startNode(t, cfg1)
	n2, stop2 := startStoppableNode(t, cfg2)
	for _, s := range []*server{n1, n2} {
		waitReadyz(t, "http://"+s.addr, 200)
	}
	alice := login(t, "ws://"+n1.addr+"/ws", "alice", false)
	bob := login(t, "ws://"+n2.addr+"/ws", "bob", false)
	waitUserlist(t, alice, "bob", has("bob"))
	if err := alice.Call(tctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, alice, bob)
	stopped := time.Now()
	stop2()
	m := waitHangUp(t, alice, 10*time.Second)
	if m.Str("reason") != "general-error" || m.Int("code") != 503 {
		t.Fatalf("alice's hang-up: %v, want general-error 503 (shutdown)", m)
	}
	t.Logf("alice's hang-up %v after n2 stopped", time.Since(stopped).Round(time.Millisecond))
	waitUserlist(t, alice, "no bob", lacks("bob"))
	if d := time.Since(stopped); d > 30*time.Second {
		t.Fatalf("bob left after %v: the node timeout, not the bye", d)
	}
}
