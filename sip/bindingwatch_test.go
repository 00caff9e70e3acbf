package sip

import (
	"testing"
	"time"
)

// TestWatchBindings: the watcher learns a user's first binding (REGISTER
// over WebSocket), nothing for a second one, the loss of the last one
// (unregistered, and the connection closed), and a user registered before
// the watch started. BindingUser names registrar users only.
func TestWatchBindings(t *testing.T) {
	env := registrarEnv(t)
	carol := dialUA(t, env, "TCP", "carol")
	wantStatus(t, "carol", registerUA(t, env, carol, carolPassword, 300), 200)

	got := make(chan presence, 16)
	env.a.WatchBindings(func(user string, present bool) { got <- presence{user, present} })
	next := func(want presence) {
		t.Helper()
		select {
		case p := <-got:
			if p != want {
				t.Fatalf("got %+v, want %+v", p, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change; want %+v", want)
		}
	}
	next(presence{"carol", true})

	ws := dialUA(t, env, "WS", "bob")
	tcp := dialUA(t, env, "TCP", "bob")
	wantStatus(t, "bob ws", registerUA(t, env, ws, bobPassword, 300), 200)
	next(presence{"bob", true})
	wantStatus(t, "bob tcp", registerUA(t, env, tcp, bobPassword, 300), 200)
	wantStatus(t, "bob ws gone", registerUA(t, env, ws, bobPassword, 0), 200)
	if !env.a.HasBindings("bob") {
		t.Error("bob has a binding left")
	}
	_ = tcp.Close() // the last binding's connection closes
	next(presence{"bob", false})
	if env.a.HasBindings("bob") {
		t.Error("bob still has bindings")
	}
	select {
	case p := <-got:
		t.Errorf("unexpected change %+v", p)
	case <-time.After(200 * time.Millisecond):
	}

	host := env.a.cfg.Host
	if u, ok := env.a.BindingUser(mustTarget(t, "sip:bob@"+host)); !ok || u != "bob" {
		t.Errorf("BindingUser(bob@%s) = %q, %v", host, u, ok)
	}
	for _, s := range []string{"sip:mallory@" + host, "sip:bob@pbx.example.org", "alice"} {
		if u, ok := env.a.BindingUser(mustTarget(t, s)); ok {
			t.Errorf("BindingUser(%s) = %q, want none", s, u)
		}
	}
}
