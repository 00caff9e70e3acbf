package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/natstest"
)

// testConfig is a fast cluster: heartbeats every 200 ms, dead after 1 s.
func testConfig(url, node string) Config {
	return Config{NATS: []string{url}, Node: node, HeartbeatInterval: 200 * time.Millisecond,
		NodeTimeout: time.Second, DialTimeout: 2 * time.Second, Prefix: "sbtest"}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNodes starts n nodes on srv and waits until each is ready and sees
// all the others.
func startNodes(t testing.TB, srv *natstest.Server, names ...string) []*Node {
	t.Helper()
	var nodes []*Node
	for _, name := range names {
		cfg := testConfig(srv.URL(), name)
		n, err := Start(context.Background(), cfg, testLogger(t).With("test-node", name), nil)
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { _ = n.Close() })
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("%s ready and seeing %d nodes", n.Name(), len(names)), func() bool {
			return n.Ready() && len(n.Nodes()) == len(names)
		})
	}
	return nodes
}

// crash stops a node the way kill -9 would: no bye, no hang-ups, the
// connection just ends.
func crash(n *Node) {
	n.closed.Store(true)
	n.cancel()
	n.wg.Wait()
	n.nc.Close()
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutProxy is a TCP proxy in front of NATS for one node: cut drops its
// connections and refuses new ones (the node alone loses NATS), heal lets
// them through again.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.cutOff() })
	go p.serve()
	return p
}

func (p *cutProxy) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (p *cutProxy) cutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

func (p *cutProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}
