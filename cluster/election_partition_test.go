package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/natstest"
)

// TestLeadPartition: the leader alone loses NATS (a partition). It keeps
// leading while cut off; another node takes the key over after the node
// timeout. When the partition heals, the old leader sees the key held by
// the other node and steps down, so one leader is left.
func TestLeadPartition(t *testing.T) {
	ns := natstest.Start(t)
	proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", ns.Port))
	l := newLeaders(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	a := electionNode(t, proxy.URL(), "a") // reaches NATS through the proxy
	wg.Add(1)
	go func() { defer wg.Done(); a.Lead(ctx, KindXMPPComponent, "gw.test", l.run("a")) }()
	if who := l.waitLeader(10*time.Second, ""); who != "a" {
		t.Fatalf("leader %s, want a", who)
	}
	b := electionNode(t, ns.URL(), "b")
	wg.Add(1)
	go func() { defer wg.Done(); b.Lead(ctx, KindXMPPComponent, "gw.test", l.run("b")) }()
	time.Sleep(1500 * time.Millisecond)
	// b's view follows the registry's watch (late on a loaded box).
	waitFor(t, 10*time.Second, "b to see leader a", func() bool { who, _ := b.Leader(KindXMPPComponent, "gw.test"); return who == "a" })

	proxy.cutOff()
	waitFor(t, 10*time.Second, "b leads while a is cut off", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.current["b"]
	})
	l.mu.Lock()
	stillA := l.current["a"]
	l.mu.Unlock()
	if !stillA {
		t.Error("a stopped leading when it lost NATS")
	}

	start := time.Now()
	proxy.heal()
	waitFor(t, 10*time.Second, "a steps down once it hears NATS again", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return !l.current["a"] && l.current["b"]
	})
	t.Logf("a stepped down %v after the partition healed", time.Since(start).Round(10*time.Millisecond))
}
