package xmpp

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// TestDevicesSurviveTakeover is a component takeover as a cluster does it
// (cluster.Lead), with the devices table in the cluster's state store on
// a real nats-server: adapter A on node a learns devices without JMI,
// juliet's by directed presence and romeo's by a subscription, and
// mirrors them; A stops (its table dies with it); meanwhile one device of
// each user goes offline, unseen. Adapter B on node b takes the domain
// over: it loads the store, probes romeo (subscribed), whose answer
// confirms his live device, and his stale one is dropped; juliet cannot be
// probed, so her stale device stays until a call forks to it: that
// branch fails, her live device answers the direct session-initiate, and
// media flows both ways; neither user sent presence again.
func TestDevicesSurviveTakeover(t *testing.T) {
	srv := natstest.Start(t)
	stores := map[string]*cluster.StateStore{}
	for _, name := range []string{"a", "b"} {
		n, err := cluster.Start(context.Background(), cluster.Config{NATS: []string{srv.URL()}, Node: name,
			HeartbeatInterval: 200 * time.Millisecond, NodeTimeout: time.Second, DialTimeout: 2 * time.Second,
			Prefix: "xmpptest"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		if stores[name], err = n.StateStore("xmpp-devices", cluster.StateConfig{MaxValue: maxStoredUser}); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnvWith(t, xmpptest.ProsodyConfig{Users: testUsers}, nil,
		func(a *Adapter) { a.SetDeviceStore(stores["a"], time.Minute) })
	ctx := ctxFor(t, 90*time.Second)

	jul := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
	julStale := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
	for _, c := range []*xmpptest.Client{jul, julStale} {
		if err := c.SendPresence(ctx, e.gwJID("alice")); err != nil {
			t.Fatal(err)
		}
		waitForkTarget(t, e, c.JID, true)
	}
	rom := e.loginWith("romeo", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures, ApproveSubscriptions: true})
	if err := rom.Subscribe(ctx, e.gwJID("bob")); err != nil {
		t.Fatal(err)
	}
	waitForkTarget(t, e, rom.JID, true)
	romStale := e.loginWith("romeo", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
	waitForkTarget(t, e, romStale.JID, true) // its initial presence reached the subscribed gateway JID

	// The table reaches the store: both users, with their devices, romeo
	// with the gateway JID he approved.
	waitStored(t, e.a, stores["b"], func(got map[string]*user) bool {
		j, r := got["juliet@localhost"], got["romeo@localhost"]
		return j != nil && r != nil && len(j.res) == 2 && len(r.res) == 2 && r.via == e.gwJID("bob").String() &&
			j.via == "" && r.res[rom.JID.Resourcepart()].feats != nil && j.res[jul.JID.Resourcepart()].feats != nil
	})

	e.shutdown() // node a stops holding the component: A's table is gone
	julStale.Close()
	romStale.Close()

	b := newTakeover(t, e, stores["b"])
	waitForkTargets(t, b.a, rom.JID.Bare(), []jid.JID{rom.JID})               // probed: the stale device dropped
	waitForkTargets(t, b.a, jul.JID.Bare(), []jid.JID{jul.JID, julStale.JID}) // not probed: both still known

	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, b.gw, "xmpp:juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	call, err := jul.AnswerDirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Close)
	assertMedia(t, ctx, call.Media, leg.peer)
	waitForkTargets(t, b.a, jul.JID.Bare(), []jid.JID{jul.JID}) // the failed branch's device forgotten
	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg.waitHangup(t, 5*time.Second)

	leg2, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg2.place(ctx, b.gw, "xmpp:romeo@localhost"); err != nil {
		t.Fatal(err)
	}
	call2, err := rom.AnswerDirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call2.Close)
	assertMedia(t, ctx, call2.Media, leg2.peer)
	if err := call2.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg2.waitHangup(t, 5*time.Second)

	// B mirrors what it learnt: juliet's stale device is gone from the
	// store too.
	waitStored(t, b.a, stores["a"], func(got map[string]*user) bool {
		j := got["juliet@localhost"]
		return j != nil && len(j.res) == 1 && j.res[jul.JID.Resourcepart()] != nil
	})
}

// newTakeover runs a second adapter for e's domain (another node's) with
// store, once e's adapter stopped, and waits for its stream.
func newTakeover(t *testing.T, e *env, store DeviceStore) *env {
	t.Helper()
	other := secondNode(t, e)
	other.a.SetDeviceStore(store, time.Minute)
	other.start()
	return other
}

// secondNode is another node's gateway and XMPP adapter for e's domain,
// not started.
func secondNode(t *testing.T, e *env) *env {
	t.Helper()
	other := *e
	other.browsers = newBrowserDir(t)
	router := gateway.NewRouter()
	router.Handle(gateway.SchemeUser, other.browsers)
	other.gw = gateway.New(gateway.Config{RingTimeout: 20 * time.Second}, router, testLogger(t),
		gateway.NewMetrics(prometheus.NewRegistry()))
	b, err := New(e.a.cfg, other.gw, testLogger(t).With("node", "b"), other.gw.Metrics())
	if err != nil {
		t.Fatal(err)
	}
	other.a = b
	return &other
}

// waitStored waits until the store's decoded content satisfies ok.
func waitStored(t *testing.T, a *Adapter, store DeviceStore, ok func(map[string]*user) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		raw, err := store.Load(ctx)
		cancel()
		got := map[string]*user{}
		for k, v := range raw {
			if u, valid := a.decodeUser(k, v); valid {
				got[k] = u
			}
		}
		if err == nil && ok(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store content not as expected: %d entries, %v", len(raw), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForkTargets waits until a call to bare forks to exactly want.
func waitForkTargets(t *testing.T, a *Adapter, bare jid.JID, want []jid.JID) {
	t.Helper()
	key := func(js []jid.JID) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.String())
		}
		slices.Sort(out)
		return out
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, _ := a.devices.forkTargets(bare)
		if slices.Equal(key(got), key(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fork targets of %s: %v, want %v", bare, key(got), key(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStoredUserValidated: what the store gives back is bounded input: a
// user's value round-trips, and every malformed one is refused whole.
func TestStoredUserValidated(t *testing.T) {
	a := fuzzAdapter(t)
	good := &user{via: "alice@gw.test", res: map[string]*device{
		"phone": {ver: "abc=", feats: &features{jingle: true, rtp: true}},
		"web":   {},
	}}
	v := good.encode()
	u, ok := a.decodeUser("romeo@example.org", v)
	if !ok {
		t.Fatalf("a value the adapter wrote was refused: %s", v)
	}
	if u.via != good.via || len(u.res) != 2 || !u.res["phone"].feats.direct() || u.res["web"].feats != nil ||
		!u.res["phone"].restored {
		t.Fatalf("round trip: %+v from %s", u, v)
	}
	if (&user{res: map[string]*device{}}).encode() != nil {
		t.Error("an empty user was encoded")
	}
	many := `{"v":1,"dev":[` + strings.TrimSuffix(strings.Repeat(`{"res":"r"},`, maxUserResources+1), ",") + `]}`
	for name, c := range map[string]struct{ key, value string }{
		"not JSON":          {"romeo@example.org", `{"v":1,`},
		"other version":     {"romeo@example.org", `{"v":2,"via":"alice@gw.test"}`},
		"empty":             {"romeo@example.org", `{"v":1}`},
		"key with resource": {"romeo@example.org/x", `{"v":1,"via":"alice@gw.test"}`},
		"key not a JID":     {"@@", `{"v":1,"via":"alice@gw.test"}`},
		"key not canonical": {"Romeo@Example.org", `{"v":1,"via":"alice@gw.test"}`},
		"key is ours":       {"x@gw.test", `{"v":1,"via":"alice@gw.test"}`},
		"via not ours":      {"romeo@example.org", `{"v":1,"via":"alice@elsewhere.test"}`},
		"via a domain":      {"romeo@example.org", `{"v":1,"via":"gw.test"}`},
		"via full":          {"romeo@example.org", `{"v":1,"via":"alice@gw.test/r"}`},
		"empty resource":    {"romeo@example.org", `{"v":1,"dev":[{"res":""}]}`},
		"same resource":     {"romeo@example.org", `{"v":1,"dev":[{"res":"a"},{"res":"a"}]}`},
		"long ver":          {"romeo@example.org", `{"v":1,"dev":[{"res":"a","ver":"` + strings.Repeat("v", maxCapsVer+1) + `"}]}`},
		"too many devices":  {"romeo@example.org", many},
		"long key":          {strings.Repeat("r", maxStoredKey) + "@example.org", `{"v":1,"via":"alice@gw.test"}`},
		"long value":        {"romeo@example.org", `{"v":1,"via":"alice@gw.test","x":"` + strings.Repeat("x", maxStoredUser) + `"}`},
	} {
		if _, ok := a.decodeUser(c.key, []byte(c.value)); ok {
			t.Errorf("%s: accepted %q = %.80s", name, c.key, c.value)
		}
	}
}

// FuzzStoredUser: no stored value panics the decoder, and what it accepts
// encodes again to a value it accepts.
func FuzzStoredUser(f *testing.F) {
	f.Add("romeo@example.org", []byte(`{"v":1,"via":"alice@gw.test","dev":[{"res":"a","ver":"x","feats":{"jingle":true}}]}`))
	f.Add("juliet@example.org", []byte(`{"v":1,"dev":[{"res":"b"}]}`))
	a := fuzzAdapter(f) // once: decodeUser only reads its configuration
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		u, ok := a.decodeUser(key, value)
		if !ok {
			return
		}
		if _, ok := a.decodeUser(key, u.encode()); !ok {
			t.Fatalf("accepted %q but not its re-encoding %s", value, u.encode())
		}
	})
}
