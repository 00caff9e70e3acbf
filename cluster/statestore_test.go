package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/natstest"
)

// TestStateStoreOutlivesWriter: what one node writes, another loads, also
// after the writer died (kill -9: no bye, and its registry entries go,
// but state entries stay); deletes and overwrites are seen; oversized
// values and keys are refused; Load bounds what it returns.
func TestStateStoreOutlivesWriter(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := StateConfig{TTL: time.Minute, MaxValue: 64, MaxEntries: 3}
	sa, err := ns[0].StateStore("devs", cfg)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ns[1].StateStore("devs", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns[0].StateStore("bad.name", cfg); err == nil {
		t.Fatal("a store name with a dot was accepted")
	}
	for k, v := range map[string]string{"romeo@localhost": "v1", "juliet@localhost": "v2", "gone@localhost": "v3"} {
		if err := sa.Put(ctx, k, []byte(v)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	if err := sa.Put(ctx, "romeo@localhost", []byte("v1b")); err != nil {
		t.Fatal(err)
	}
	if err := sa.Delete(ctx, "gone@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := sa.Delete(ctx, "never@localhost"); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	if err := sa.Put(ctx, "big@localhost", make([]byte, 65)); err == nil {
		t.Fatal("a value above MaxValue was accepted")
	}
	if err := sa.Put(ctx, strings.Repeat("k", maxKeyLen+1), []byte("x")); err == nil {
		t.Fatal("a key above the limit was accepted")
	}

	crash(ns[0])
	waitFor(t, 10*time.Second, "a dead for b", func() bool { return !ns[1].Alive("a") })
	got, err := sb.Load(ctx)
	if err != nil {
		t.Fatalf("load on b: %v", err)
	}
	want := map[string]string{"romeo@localhost": "v1b", "juliet@localhost": "v2"}
	if len(got) != len(want) {
		t.Fatalf("loaded %d entries %v, want %v", len(got), got, want)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	// Load stops at MaxEntries, whatever the bucket holds.
	small, err := ns[1].StateStore("devs", StateConfig{TTL: time.Minute, MaxValue: 64, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := small.Load(ctx); err != nil || len(got) != 1 {
		t.Fatalf("load with MaxEntries 1: %d entries, %v", len(got), err)
	}
}

// TestStateStoreLimits: the bucket holds about MaxEntries entries (a full
// bucket refuses new keys, which the writer logs and retries), and an
// entry expires TTL after its last write.
func TestStateStoreLimits(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := ns[0].StateStore("lim", StateConfig{TTL: 1500 * time.Millisecond, MaxValue: 100, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	var refused error
	for i := range 40 {
		if err := s.Put(ctx, fmt.Sprintf("k%d", i), make([]byte, 100)); err != nil {
			refused = err
			break
		}
	}
	if refused == nil {
		t.Fatal("40 entries of 100 bytes fit in a store of about 4")
	}
	if !errors.Is(refused, ErrUnavailable) {
		t.Fatalf("full bucket: %v", refused)
	}
	got, err := s.Load(ctx)
	if err != nil || len(got) == 0 || len(got) > 4 {
		t.Fatalf("loaded %d entries (%v), want 1-4", len(got), err)
	}
	// JetStream expires on its own timer: on a busy box it can take several
	// times the TTL.
	waitFor(t, 30*time.Second, "entries expired after the TTL", func() bool {
		got, err := s.Load(ctx)
		return err == nil && len(got) == 0
	})
	if err := s.Put(ctx, "again", []byte("x")); err != nil {
		t.Fatalf("put after expiry: %v", err)
	}
}

// TestStateStoreWithoutNATS: with NATS gone, operations fail at once with
// ErrUnavailable; once it is back, they work again.
func TestStateStoreWithoutNATS(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a")
	s, err := ns[0].StateStore("devs", StateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	waitFor(t, 10*time.Second, "a sees NATS gone", func() bool { return !ns[0].Ready() })
	start := time.Now()
	if err := s.Put(ctx, "k", []byte("v2")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put without NATS: %v, want ErrUnavailable", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("put without NATS took %v", time.Since(start))
	}
	srv.Restart()
	waitFor(t, 15*time.Second, "a ready again", ns[0].Ready)
	waitFor(t, 10*time.Second, "put works again", func() bool { return s.Put(ctx, "k", []byte("v3")) == nil })
	got, err := s.Load(ctx)
	if err != nil || string(got["k"]) != "v3" {
		t.Fatalf("after the restart: %q, %v", got["k"], err)
	}
}
