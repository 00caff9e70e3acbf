package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// clusterTestConfig is one node of a test cluster: loopback HTTP on a
// free port, no SIP, fast heartbeats (dead after 1 s).
func clusterTestConfig(natsURL, node string) Config {
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.SIP.Listen = sipOff
	cfg.DrainTimeout = time.Second
	cfg.Cluster = cluster.Config{NATS: []string{natsURL}, Node: node, HeartbeatInterval: 250 * time.Millisecond,
		NodeTimeout: time.Second, DialTimeout: 2 * time.Second, CallQueue: 256, Prefix: "sigbridge"}
	return cfg
}

// startNode runs serve in this process until the test ends.
func startNode(t *testing.T, cfg Config) *server {
	t.Helper()
	s, _ := startStoppableNode(t, cfg)
	return s
}

// startStoppableNode is startNode with a stop that drains the node (as
// SIGTERM does) and waits for serve to return.
func startStoppableNode(t *testing.T, cfg Config) (*server, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server, 1)
	done := make(chan error, 1)
	var logOut io.Writer = io.Discard
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	go func() { done <- serve(ctx, cfg, newLogger(logOut, "debug").With("node", cfg.Cluster.Node), started) }()
	select {
	case s := <-started:
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				<-done
			})
		}
		t.Cleanup(stop)
		return s, stop
	case err := <-done:
		cancel()
		t.Fatalf("serve %s: %v", cfg.Cluster.Node, err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("serve %s: not started", cfg.Cluster.Node)
	}
	return nil, nil
}

func waitReadyz(t *testing.T, base string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := getQuiet(base + "/readyz")
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz: %d, want %d", base, code, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browser is one logged-in MDN-dialect pion peer.
type browser struct {
	*wstest.Peer
	cancel context.CancelFunc
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login connects to wsURL as name (user-events with events) and starts
// the pion peer. It returns the name the gateway gave.
func login(t *testing.T, wsURL, name string, events bool) *browser {
	t.Helper()
	c, _, err := wstest.Dial(tctx(t), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var extra map[string]any
	if events {
		extra = map[string]any{"features": []string{"user-events"}}
	}
	if _, err := c.Login(tctx(t), name, extra); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	p, err := wstest.NewPeer(c, wstest.PeerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.Start(ctx)
	return &browser{Peer: p, cancel: cancel}
}

// waitMedia waits until both peers are ICE connected and each received
// the other's data channel greeting: media both ways.
func waitMedia(t *testing.T, a, b *browser) {
	t.Helper()
	for _, p := range []*browser{a, b} {
		select {
		case <-p.Connected():
		case err := <-p.Errors():
			t.Fatalf("%s: %v", p.Client.Name, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: ICE not connected", p.Client.Name)
		}
	}
	expectText(t, a, "hello from "+b.Client.Name)
	expectText(t, b, "hello from "+a.Client.Name)
}

// exchange checks that a call still carries data both ways.
func exchange(t *testing.T, a, b *browser, tag string) {
	t.Helper()
	if err := a.SendText(tag + " from " + a.Client.Name); err != nil {
		t.Fatal(err)
	}
	if err := b.SendText(tag + " from " + b.Client.Name); err != nil {
		t.Fatal(err)
	}
	expectText(t, b, tag+" from "+a.Client.Name)
	expectText(t, a, tag+" from "+b.Client.Name)
}

func expectText(t *testing.T, p *browser, prefix string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-p.Messages():
			if strings.HasPrefix(got, prefix) {
				return
			}
		case err := <-p.Errors():
			t.Fatalf("%s: %v", p.Client.Name, err)
		case <-deadline:
			t.Fatalf("%s: no data channel message %q", p.Client.Name, prefix)
		}
	}
}

// waitHangUp waits for a hang-up message and returns it.
func waitHangUp(t *testing.T, p *browser, d time.Duration) wstest.Message {
	t.Helper()
	select {
	case m := <-p.HangUps():
		return m
	case <-time.After(d):
		t.Fatalf("%s: no hang-up within %v", p.Client.Name, d)
		return nil
	}
}

// noHangUp asserts no hang-up arrives within d.
func noHangUp(t *testing.T, p *browser, d time.Duration) {
	t.Helper()
	select {
	case m := <-p.HangUps():
		t.Fatalf("%s: unexpected hang-up %v", p.Client.Name, m)
	case <-time.After(d):
	}
}

// waitUserlist waits for a userlist (MDN client) that satisfies ok. It
// asks for a fresh one first (the gateway answers every username with
// the list), as the last one may have been taken by Login.
func waitUserlist(t *testing.T, b *browser, what string, ok func([]string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Client.Send(map[string]any{"type": "username", "name": b.Client.Name, "id": b.Client.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client.Expect(ctx, func(m wstest.Message) bool {
		return m.Type() == "userlist" && ok(m.Strings("users"))
	}); err != nil {
		t.Fatalf("%s: no userlist with %s: %v", b.Client.Name, what, err)
	}
}

func has(names ...string) func([]string) bool {
	return func(list []string) bool {
		for _, n := range names {
			if !slices.Contains(list, n) {
				return false
			}
		}
		return true
	}
}

func lacks(name string) func([]string) bool {
	return func(list []string) bool { return !slices.Contains(list, name) }
}

// getQuiet is a GET that returns 0 when the server cannot be reached.
func getQuiet(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rejectedName logs in as name and returns the name of the
// rejectusername the gateway answers ("" if none), then disconnects.
func rejectedName(t *testing.T, wsURL, name string) string {
	t.Helper()
	c, _, err := wstest.Dial(tctx(t), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitID(tctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(map[string]any{"type": "username", "name": name, "id": c.ID}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.ExpectType(ctx, "rejectusername")
	if err != nil {
		return ""
	}
	return m.Str("name")
}

// waitUserEvent waits for a user-joined or user-left naming name.
func waitUserEvent(t *testing.T, b *browser, typ, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := b.Client.Expect(ctx, func(m wstest.Message) bool {
		return m.Type() == typ && slices.Contains(m.Strings("users"), name)
	}); err != nil {
		t.Fatalf("%s: no %s for %s: %v", b.Client.Name, typ, name, err)
	}
}

// loginError logs in as name and returns the error message the gateway
// answers (nil if none within 5 s), then disconnects.
func loginError(t *testing.T, wsURL, name string) wstest.Message {
	t.Helper()
	c, _, err := wstest.Dial(tctx(t), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitID(tctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(map[string]any{"type": "username", "name": name, "id": c.ID}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, _ := c.ExpectType(ctx, "error")
	return m
}
