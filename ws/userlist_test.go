package ws

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// fullListBytes is the size of the userlist naming u0 … u(n-1).
func fullListBytes(n int) int64 {
	names := make([]string, n)
	for i := range names {
		names[i] = "u" + strconv.Itoa(i)
	}
	slices.Sort(names)
	return int64(len(encode(userlistMsg{Type: typeUserlist, Users: names})))
}

// TestUserlistFanOutBounded: a fixed login sequence (300 users, one after
// the other) and one user renaming itself 100 times (within the message
// rate) must cost a few full lists per connection, not a list per change:
// every connection needs the whole list once, and coalescing sends it at
// most once per interval. Sending the whole list to everybody on every
// change costs about users/3 full lists per connection.
func TestUserlistFanOutBounded(t *testing.T) {
	const users = 300
	h := newHarness(t, Config{RatePerSecond: 1e9, RateBurst: 1 << 30, listInterval: 500 * time.Millisecond}, gateway.Config{})
	var bytes, msgs atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*conn, users)
	for i := range conns {
		conns[i] = countingConn(h.srv, &bytes, &msgs, &wg)
		conns[i].handle([]byte(`{"type":"username","name":"u` + strconv.Itoa(i) + `"}`))
	}
	settle(h.srv, conns)
	bound := 6 * users * fullListBytes(users)
	t.Logf("login sequence: %d bytes in %d messages (bound %d)", bytes.Load(), msgs.Load(), bound)
	if bytes.Load() > bound {
		t.Errorf("%d logins queued %d bytes, over %d (6 full lists per connection)", users, bytes.Load(), bound)
	}

	bytes.Store(0)
	renamer := conns[0]
	for i := range 100 {
		renamer.handle([]byte(`{"type":"username","name":"r` + strconv.Itoa(i) + `"}`))
	}
	settle(h.srv, conns)
	t.Logf("100 renames: %d bytes", bytes.Load())
	if bytes.Load() > bound {
		t.Errorf("100 renames queued %d bytes, over %d", bytes.Load(), bound)
	}
	for _, c := range conns {
		if c.closing() {
			t.Fatalf("connection %d dropped (queue overflow)", c.id)
		}
		h.srv.dir.remove(c)
		c.cancel()
	}
	wg.Wait()
}

// TestUserlistCoalesced: during a burst of logins an MDN client gets at
// most one userlist per interval, and the last one is the final state.
func TestUserlistCoalesced(t *testing.T) {
	const interval = 300 * time.Millisecond
	h := newHarness(t, Config{listInterval: interval}, gateway.Config{})
	watcher := h.login("watcher", nil)
	start := time.Now()
	want := []string{"watcher"}
	for i := range 30 {
		name := "u" + strconv.Itoa(i)
		c := h.dial(nil)
		if _, err := c.WaitID(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		send(t, c, map[string]any{"type": "username", "name": name})
		want = append(want, name)
	}
	slices.Sort(want)
	lists := 0
	for {
		m := expect(t, watcher, "userlist")
		lists++
		if slices.Equal(m.Strings("users"), want) {
			break
		}
	}
	elapsed := time.Since(start)
	if max := int(elapsed/interval) + 2; lists > max {
		t.Fatalf("%d userlists in %v, want at most %d (one per %v)", lists, elapsed, max, interval)
	}
	expectNone(t, watcher, "userlist", interval+100*time.Millisecond)
}

// TestUserEvents: a client with the "user-events" feature gets user-joined
// (first with everybody, itself included) and user-left instead of
// userlists; MDN clients still get userlists; a rename is left + joined.
func TestUserEvents(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	bob := h.login("bob", nil)
	alice := h.login("alice", map[string]any{"features": []string{"callId", "user-events"}})
	waitUsers := func(typ string, want ...string) {
		t.Helper()
		m := expect(t, alice, typ)
		if !slices.Equal(m.Strings("users"), want) {
			t.Fatalf("%s %v, want %v", typ, m.Strings("users"), want)
		}
	}
	carol := h.login("carol", nil)
	waitUsers("user-joined", "carol")
	waitUserlist(t, bob, []string{"alice", "bob", "carol"})
	send(t, carol, map[string]any{"type": "username", "name": "caroline"})
	waitUsers("user-left", "carol")
	waitUsers("user-joined", "caroline")
	_ = bob.Close()
	waitUsers("user-left", "bob")
	expectNone(t, alice, "userlist", 100*time.Millisecond) // searches what arrived too
}

// TestDirectoryNone: nobody learns who is online, and calls still work by
// name.
func TestDirectoryNone(t *testing.T) {
	h := newHarness(t, Config{Directory: DirectoryNone}, gateway.Config{})
	alice, bob := h.dial(nil), h.dial(nil)
	for _, c := range []struct {
		c    *wstest.Client
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		if _, err := c.c.WaitID(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		send(t, c.c, map[string]any{"type": "username", "name": c.name, "features": []string{"user-events"}})
		c.c.Name = c.name
		waitFor(t, c.name+" online", func() bool { _, err := h.srv.dir.lookup(c.name); return err == nil })
	}
	offer := signalCall(t, alice, bob, nil)
	answerCall(t, bob, alice, offer)
	for _, c := range []*wstest.Client{alice, bob} {
		for _, typ := range []string{"userlist", "user-joined"} {
			expectNone(t, c, typ, 100*time.Millisecond)
		}
	}
}

// TestRenameBudget: renames beyond the budget are refused (429, and
// rejectusername with the name kept); the connection stays up.
func TestRenameBudget(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice := h.login("alice", nil)
	for i := range renameBurst {
		name := "a" + strconv.Itoa(i)
		send(t, alice, map[string]any{"type": "username", "name": name})
		alice.Name = name
		waitFor(t, name, func() bool { _, err := h.srv.dir.lookup(name); return err == nil })
	}
	send(t, alice, map[string]any{"type": "username", "name": "mallory"})
	if m := expect(t, alice, "rejectusername"); m.Str("name") != alice.Name {
		t.Fatalf("rejectusername %v, want the kept name %q", m, alice.Name)
	}
	expectError(t, alice, 429, "username")
	if _, err := h.srv.dir.lookup("mallory"); err == nil {
		t.Fatal("rename over the budget happened")
	}
	chatEcho(t, alice)
}

func TestConfigValidateDirectory(t *testing.T) {
	if err := (Config{Directory: "friends"}).Validate(); err == nil {
		t.Fatal("unknown directory mode accepted")
	}
	for _, m := range []string{"", DirectoryAll, DirectoryNone} {
		if err := (Config{Directory: m}).Validate(); err != nil {
			t.Fatalf("%q: %v", m, err)
		}
	}
}
