package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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

func fmtInt(i int) string { return fmt.Sprint(i) }
