package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// TestClaimUniqueAcrossNodes: a key claimed on one node is ErrTaken on
// the others, visible everywhere, and free again once released.
func TestClaimUniqueAcrossNodes(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b", "c")
	ctx := context.Background()
	if err := ns[0].Claim(ctx, KindUser, "alice"); err != nil {
		t.Fatalf("claim on a: %v", err)
	}
	if err := ns[0].Claim(ctx, KindUser, "alice"); err != nil {
		t.Fatalf("claim again on a: %v", err)
	}
	for _, n := range ns[1:] {
		if err := n.Claim(ctx, KindUser, "alice"); !errors.Is(err, ErrTaken) {
			t.Fatalf("claim on %s: %v, want ErrTaken", n.Name(), err)
		}
	}
	for _, n := range ns {
		waitFor(t, 10*time.Second, n.Name()+" sees alice on a", func() bool {
			node, ok, err := n.Lookup(ctx, KindUser, "alice")
			return err == nil && ok && node == "a"
		})
	}
	ns[0].Release(KindUser, "alice")
	waitFor(t, 10*time.Second, "alice released", func() bool {
		_, ok, _ := ns[2].Lookup(ctx, KindUser, "alice")
		return !ok
	})
	if err := ns[2].Claim(ctx, KindUser, "alice"); err != nil {
		t.Fatalf("claim on c after release: %v", err)
	}
}

// TestClaimRace: nodes claiming the same keys at once: each key ends with
// exactly one holder, and the nodes agree on it.
func TestClaimRace(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b", "c")
	keys := []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"}
	won := make(map[string][]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range ns {
		for _, k := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := n.Claim(context.Background(), KindUser, k)
				if err != nil && !errors.Is(err, ErrTaken) {
					t.Errorf("claim %s on %s: %v", k, n.Name(), err)
				}
				if err == nil {
					mu.Lock()
					won[k] = append(won[k], n.Name())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for _, k := range keys {
		if len(won[k]) != 1 {
			t.Fatalf("key %s won by %v", k, won[k])
		}
		for _, n := range ns {
			waitFor(t, 10*time.Second, n.Name()+" agrees on "+k, func() bool {
				node, ok, _ := n.Lookup(context.Background(), KindUser, k)
				return ok && node == won[k][0]
			})
		}
	}
}

// TestDeadNodeKeysLeave: a node that crashes (no bye) loses its keys on
// the others within the node timeout; watchers hear it; the keys can be
// claimed again and the bucket no longer holds them.
func TestDeadNodeKeysLeave(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b", "c")
	ctx := context.Background()
	for _, k := range []string{"bob", "carol"} {
		if err := ns[1].Claim(ctx, KindUser, k); err != nil {
			t.Fatal(err)
		}
	}
	changes := make(chan Change, 16)
	stop := ns[0].Watch(KindUser, func(c Change) { changes <- c })
	defer stop()
	online := map[string]bool{}
	for len(online) < 2 {
		select {
		case c := <-changes:
			online[c.Key] = c.Online
		case <-time.After(5 * time.Second):
			t.Fatalf("watch did not show b's keys: %v", online)
		}
	}
	crashed := time.Now()
	crash(ns[1])
	for online["bob"] || online["carol"] {
		select {
		case c := <-changes:
			if c.Node == "b" {
				online[c.Key] = c.Online
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("b's keys did not leave: %v", online)
		}
	}
	t.Logf("b's keys left %v after the crash", time.Since(crashed).Round(time.Millisecond))
	if err := ns[2].Claim(ctx, KindUser, "bob"); err != nil {
		t.Fatalf("claim bob on c after b died: %v", err)
	}
	waitFor(t, 10*time.Second, "carol reaped from the bucket", func() bool {
		_, ok := ns[2].mir.get(KindUser, "carol")
		return !ok
	})
}

// TestStartWithoutNATS: a node started while NATS is down is not ready
// and refuses claims; it joins by itself once NATS is up, and its claims
// survive a NATS restart.
func TestStartWithoutNATS(t *testing.T) {
	srv := natstest.Start(t)
	srv.Kill()
	n, err := Start(context.Background(), testConfig(srv.URL(), "a"), testLogger(t), nil)
	if err != nil {
		t.Fatalf("start without NATS: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	time.Sleep(500 * time.Millisecond)
	if n.Ready() {
		t.Fatal("ready without NATS")
	}
	if err := n.Claim(context.Background(), KindUser, "alice"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("claim without NATS: %v", err)
	}
	srv.Restart()
	waitFor(t, 10*time.Second, "ready once NATS is up", n.Ready)
	if err := n.Claim(context.Background(), KindUser, "alice"); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	waitFor(t, 10*time.Second, "ready after the NATS restart", n.Ready)
	other, err := Start(context.Background(), testConfig(srv.URL(), "b"), testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	waitFor(t, 10*time.Second, "b ready", other.Ready)
	waitFor(t, 10*time.Second, "b sees alice on a", func() bool {
		node, ok, _ := other.Lookup(context.Background(), KindUser, "alice")
		return ok && node == "a"
	})
	if err := other.Claim(context.Background(), KindUser, "alice"); !errors.Is(err, ErrTaken) {
		t.Fatalf("claim of a's alice on b: %v", err)
	}
}

// TestLocatorReadsBucketOnMirrorMiss: a user whose claim another node's
// mirror has not received yet (the watch lags on a busy box) is still
// located on its node, from the bucket; a key nobody holds is not.
func TestLocatorReadsBucketOnMirrorMiss(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	ctx := context.Background()
	if err := ns[0].Claim(ctx, KindUser, "alice"); err != nil {
		t.Fatalf("claim on a: %v", err)
	}
	waitFor(t, 10*time.Second, "b's mirror has alice", func() bool {
		_, ok, _ := ns[1].Lookup(ctx, KindUser, "alice")
		return ok
	})
	// b's watch has not delivered the claim yet: as on a busy box.
	ns[1].mir.apply(KindUser, "alice", entry{}, true)
	if _, ok, _ := ns[1].Lookup(ctx, KindUser, "alice"); ok {
		t.Fatal("b's mirror still has alice")
	}
	locate := ns[1].RegistryLocator(KindUser, func(t gateway.Target) string { return t.User })
	node, remote, err := locate(ctx, gateway.Target{User: "alice"})
	if err != nil || !remote || node != "a" {
		t.Fatalf("locate alice from b: node %q remote %v err %v; want a, true", node, remote, err)
	}
	if node, remote, err := locate(ctx, gateway.Target{User: "nobody"}); err != nil || remote {
		t.Fatalf("locate nobody from b: node %q remote %v err %v; want local", node, remote, err)
	}
}

// TestReapedClaimReasserted: a peer that took this node for dead (its
// heartbeats late on a starved box) deletes its entries from the bucket
// while this node's connection stays up; this node, still holding the
// key, writes it again, and every node sees the user on it again.
func TestReapedClaimReasserted(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	ctx := context.Background()
	if err := ns[0].Claim(ctx, KindUser, "alice"); err != nil {
		t.Fatalf("claim on a: %v", err)
	}
	waitFor(t, 10*time.Second, "b sees alice on a", func() bool {
		node, ok, _ := ns[1].Lookup(ctx, KindUser, "alice")
		return ok && node == "a"
	})
	kv := ns[1].kv.Load()
	if err := (*kv).Delete(ctx, kvKey(KindUser, "alice")); err != nil { // b reaps it
		t.Fatalf("delete from b: %v", err)
	}
	waitFor(t, 10*time.Second, "alice back in the bucket, held by a", func() bool {
		e, err := (*kv).Get(ctx, kvKey(KindUser, "alice"))
		if err != nil {
			return false
		}
		h, err := decodeHolder(e.Value())
		return err == nil && h.node == "a"
	})
	waitFor(t, 10*time.Second, "b sees alice on a again", func() bool {
		node, ok, _ := ns[1].Lookup(ctx, KindUser, "alice")
		return ok && node == "a"
	})
	// A release of a's own is not reasserted.
	ns[0].Release(KindUser, "alice")
	waitFor(t, 10*time.Second, "alice released", func() bool {
		_, err := (*kv).Get(ctx, kvKey(KindUser, "alice"))
		return err != nil
	})
	if err := ns[1].Claim(ctx, KindUser, "alice"); err != nil {
		t.Fatalf("claim on b after a's release: %v", err)
	}
}
