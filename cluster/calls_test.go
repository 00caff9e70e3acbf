package cluster

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// recLeg records what it is delivered and posts what the test says.
type recLeg struct {
	kind string
	caps gateway.Caps
	ch   chan gateway.Event
	mu   sync.Mutex
	call *gateway.Call
	fail bool
}

func newRecLeg(kind string) *recLeg {
	return &recLeg{kind: kind, caps: gateway.Caps{Trickle: true, MDNS: true}, ch: make(chan gateway.Event, 1024)}
}

func (l *recLeg) Kind() string       { return l.kind }
func (l *recLeg) Caps() gateway.Caps { return l.caps }
func (l *recLeg) Deliver(ev gateway.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errors.New("leg gone")
	}
	select {
	case l.ch <- ev:
		return nil
	default:
		return errors.New("recLeg full")
	}
}

func (l *recLeg) setCall(c *gateway.Call) {
	l.mu.Lock()
	l.call = c
	l.mu.Unlock()
}

func (l *recLeg) post(t testing.TB, ev gateway.Event) {
	t.Helper()
	l.mu.Lock()
	c := l.call
	l.mu.Unlock()
	if err := c.Post(l, ev); err != nil {
		t.Fatalf("%s post %s: %v", l.kind, ev.EventName(), err)
	}
}

func next[T gateway.Event](t testing.TB, l *recLeg) T {
	t.Helper()
	select {
	case ev := <-l.ch:
		v, ok := ev.(T)
		if !ok {
			var zero T
			t.Fatalf("%s leg: got %T %+v, want %T", l.kind, ev, ev, zero)
		}
		return v
	case <-time.After(10 * time.Second):
		var zero T
		t.Fatalf("%s leg: nothing delivered, want %T", l.kind, zero)
		return zero
	}
}

// site is one node with its gateway: browser-like users are recLegs
// claimed in the registry under KindUser.
type site struct {
	n     *Node
	gw    *gateway.Gateway
	mu    sync.Mutex
	users map[string]chan *recLeg // callee legs created here, per user
}

func newSite(t testing.TB, n *Node) *site { return newSiteWith(t, n, gateway.DefaultConfig()) }

func newSiteWith(t testing.TB, n *Node, cfg gateway.Config) *site {
	s := &site{n: n, users: map[string]chan *recLeg{}}
	s.gw = gateway.New(cfg, gateway.NewRouter(), testLogger(t), nil)
	local := gateway.DialerFunc(func(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
		s.mu.Lock()
		ch, ok := s.users[req.Target.User]
		s.mu.Unlock()
		if !ok {
			return nil, gateway.ErrNotFound
		}
		l := newRecLeg("rec")
		l.setCall(req.Call)
		ch <- l
		return l, nil
	})
	s.gw.Router().Handle(gateway.SchemeUser, n.RemoteDialer(gateway.SchemeUser, local,
		n.RegistryLocator(KindUser, func(t gateway.Target) string { return t.User })))
	return s
}

// login makes user reachable on this site.
func (s *site) login(t testing.TB, user string) chan *recLeg {
	t.Helper()
	if err := s.n.Claim(context.Background(), KindUser, user); err != nil {
		t.Fatalf("claim %s: %v", user, err)
	}
	ch := make(chan *recLeg, 16)
	s.mu.Lock()
	s.users[user] = ch
	s.mu.Unlock()
	return ch
}

func readSDP(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// place calls target from `from` on s; it returns the caller's leg.
func (s *site) place(t testing.TB, from, target string) (*recLeg, *gateway.Call, error) {
	t.Helper()
	offer, err := gateway.ParseSDP(readSDP(t, "chrome156_offer_audio_only.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	l := newRecLeg("caller")
	c, err := s.gw.Place(context.Background(), gateway.PlaceRequest{Caller: l, From: from, Target: target, Offer: offer})
	if err == nil {
		l.setCall(c)
	}
	return l, c, err
}

func waitCallee(t testing.TB, ch chan *recLeg) *recLeg {
	t.Helper()
	select {
	case l := <-ch:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("callee leg never created")
		return nil
	}
}

// callBob logs bob in at site b, waits until a's node lists him, and
// places a call from alice at a; it returns the caller's leg, the call,
// and bob's leg with the offer it got.
func callBob(t testing.TB, a, b *site) (caller *recLeg, call *gateway.Call, callee *recLeg, offer gateway.Offer) {
	t.Helper()
	bobLegs := b.login(t, "bob")
	waitFor(t, 10*time.Second, "a sees bob", func() bool { _, ok := a.n.List(KindUser)["bob"]; return ok })
	caller, call, err := a.place(t, "alice", "bob")
	if err != nil {
		t.Fatal(err)
	}
	callee = waitCallee(t, bobLegs)
	return caller, call, callee, next[gateway.Offer](t, callee)
}

// TestRemoteCall: a call from a user on node a to a user on node b: every
// neutral event crosses both ways, in order, and a hang-up ends both.
func TestRemoteCall(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	a, b := newSite(t, ns[0]), newSite(t, ns[1])
	caller, call, callee, offer := callBob(t, a, b)
	if len(offer.SDP.MediaDescriptions) != 1 {
		t.Fatalf("offer has %d m-lines", len(offer.SDP.MediaDescriptions))
	}
	callee.post(t, gateway.Ringing{Code: 180})
	if r := next[gateway.Ringing](t, caller); r.Code != 180 {
		t.Fatalf("ringing %d", r.Code)
	}
	answer, err := gateway.ParseSDP(readSDP(t, "chrome156_answer_recvonly_gathered.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	callee.post(t, gateway.Answer{SDP: answer})
	next[gateway.Answer](t, caller)
	for i := range 20 { // order: 20 candidates each way arrive as sent
		line := "candidate:1 1 udp 2122260223 127.0.0.1 " + strconv.Itoa(50000+i) + " typ host"
		caller.post(t, gateway.Candidate{Mid: "0", Line: line})
		callee.post(t, gateway.Candidate{Mid: "0", Line: line})
	}
	for i := range 20 {
		want := "candidate:1 1 udp 2122260223 127.0.0.1 " + strconv.Itoa(50000+i) + " typ host"
		if c := next[gateway.Candidate](t, callee); c.Line != want {
			t.Fatalf("callee candidate %d: %q", i, c.Line)
		}
		if c := next[gateway.Candidate](t, caller); c.Line != want {
			t.Fatalf("caller candidate %d: %q", i, c.Line)
		}
	}
	caller.post(t, gateway.EndOfCandidates{Mid: "0"})
	if e := next[gateway.EndOfCandidates](t, callee); e.Mid != "0" {
		t.Fatalf("end-of-candidates %+v", e)
	}
	// A re-offer the callee refuses: the Failure reaches the caller.
	reoffer, err := gateway.ParseSDP(readSDP(t, "chrome156_offer_audio_only.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	caller.post(t, gateway.Offer{SDP: reoffer})
	next[gateway.Offer](t, callee)
	callee.post(t, gateway.Failure{Code: 488, Reason: gateway.CondIncompatibleParameters, Text: "not here", Ref: "offer"})
	if f := next[gateway.Failure](t, caller); f.Code != 488 || f.Text != "not here" || f.Ref != "offer" {
		t.Fatalf("failure %+v", f)
	}
	caller.post(t, gateway.DTMF{Digits: "12#", Duration: 100 * time.Millisecond})
	if d := next[gateway.DTMF](t, callee); d.Digits != "12#" || d.Duration != 100*time.Millisecond {
		t.Fatalf("dtmf %+v", d)
	}
	callee.post(t, gateway.Hangup{})
	if h := next[gateway.Hangup](t, caller); h.Reason.Condition != gateway.CondSuccess {
		t.Fatalf("caller hangup %+v", h.Reason)
	}
	<-call.Done()
	waitFor(t, 10*time.Second, "endpoints gone", func() bool { return ns[0].calls.count() == 0 && ns[1].calls.count() == 0 })
	if s := ns[0].Stats(); s.CallMessages == 0 {
		t.Fatal("no call messages counted on a")
	}
}

// TestRemoteCallErrors: an unknown user on a node is the remote dialer's
// 404; a user whose node is gone is 480.
func TestRemoteCallErrors(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	a, b := newSite(t, ns[0]), newSite(t, ns[1])
	// carol is claimed on b but b's adapter does not know her: b answers 404.
	if err := ns[1].Claim(context.Background(), KindUser, "carol"); err != nil {
		t.Fatal(err)
	}
	_ = b
	waitFor(t, 10*time.Second, "a sees carol", func() bool { _, ok := ns[0].List(KindUser)["carol"]; return ok })
	if _, _, err := a.place(t, "alice", "carol"); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("call carol: %v, want ErrNotFound", err)
	}
	// dave is nowhere: a's local dialer answers.
	if _, _, err := a.place(t, "alice", "dave"); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("call dave: %v, want ErrNotFound", err)
	}
	if code, _ := gateway.Status(errOf(a.place(t, "alice", "carol"))); code != 404 {
		t.Fatalf("status %d", code)
	}
}

func errOf(_ *recLeg, _ *gateway.Call, err error) error { return err }

// TestNodeLostEndsCalls: the callee's node crashes mid-call: the caller
// gets connectivity-error within the node timeout; the caller's node
// crashing ends the callee's leg the same way.
func TestNodeLostEndsCalls(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b", "c")
	a, b, c := newSite(t, ns[0]), newSite(t, ns[1]), newSite(t, ns[2])
	bobLegs := b.login(t, "bob")
	carolLegs := c.login(t, "carol")
	waitFor(t, 10*time.Second, "users visible", func() bool {
		l := ns[0].List(KindUser)
		return l["bob"] == "b" && l["carol"] == "c" && ns[1].List(KindUser)["carol"] == "c"
	})
	// a → b: b crashes.
	caller1, call1, err := a.place(t, "alice", "bob")
	if err != nil {
		t.Fatal(err)
	}
	callee1 := waitCallee(t, bobLegs)
	next[gateway.Offer](t, callee1)
	// b → c: b (the owner) crashes.
	_, _, err = b.place(t, "bob2", "carol")
	if err != nil {
		t.Fatal(err)
	}
	callee2 := waitCallee(t, carolLegs)
	next[gateway.Offer](t, callee2)

	crashed := time.Now()
	crash(ns[1])
	h := next[gateway.Hangup](t, caller1)
	if h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("caller on a: %+v, want connectivity-error", h.Reason)
	}
	t.Logf("caller on a ended %v after b crashed", time.Since(crashed).Round(time.Millisecond))
	<-call1.Done()
	h = next[gateway.Hangup](t, callee2)
	if h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("callee on c: %+v, want connectivity-error", h.Reason)
	}
	waitFor(t, 10*time.Second, "bob left a's view", func() bool { _, ok := ns[0].List(KindUser)["bob"]; return !ok })
}

// TestRemoteCallOverflow: a leg that posts faster than its events can
// leave fills the call's bounded queue: the call ends like a local leg's
// failed delivery, the other leg with connectivity-error.
func TestRemoteCallOverflow(t *testing.T) {
	srv := natstest.Start(t)
	var ns []*Node
	for _, name := range []string{"a", "b"} {
		cfg := testConfig(srv.URL(), name)
		cfg.CallQueue = 2
		n, err := Start(context.Background(), cfg, testLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		ns = append(ns, n)
	}
	waitFor(t, 10*time.Second, "nodes ready", func() bool {
		return ns[0].Ready() && ns[1].Ready() && len(ns[0].Nodes()) == 2
	})
	a, b := newSite(t, ns[0]), newSite(t, ns[1])
	caller, call, callee, _ := callBob(t, a, b)
	overflowed := false
	for i := range 100_000 {
		callee.mu.Lock()
		c := callee.call
		callee.mu.Unlock()
		if err := c.Post(callee, gateway.Candidate{Mid: "0", Line: "candidate:1 1 udp 1 127.0.0.1 " + strconv.Itoa(i) + " typ host"}); err != nil {
			overflowed = true
			break
		}
	}
	if !overflowed {
		t.Fatal("100000 events never filled a queue of 2")
	}
	if h := next[gateway.Hangup](t, callee); h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("callee: %+v", h.Reason)
	}
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-caller.ch:
			if h, ok := ev.(gateway.Hangup); ok {
				if h.Reason.Condition != gateway.CondConnectivityError {
					t.Fatalf("caller: %+v", h.Reason)
				}
				done = true
			}
		case <-deadline:
			t.Fatal("caller never hung up")
		}
	}
	<-call.Done()
}

// TestPartitionedNodeCallsEnd: node b alone loses NATS longer than the
// node timeout. a declares it dead and ends its call with it; b judges
// nobody while cut off, and when it is back a tells it the call is over,
// so b's leg ends too. b's names come back.
func TestPartitionedNodeCallsEnd(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a")
	proxy := newCutProxy(t, strings.TrimPrefix(srv.URL(), "nats://"))
	nb, err := Start(context.Background(), testConfig(proxy.URL(), "b"), testLogger(t).With("test-node", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nb.Close() })
	ns = append(ns, nb)
	waitFor(t, 10*time.Second, "a and b see each other", func() bool {
		return nb.Ready() && len(ns[0].Nodes()) == 2 && len(nb.Nodes()) == 2
	})
	a, b := newSite(t, ns[0]), newSite(t, nb)
	lost := make(chan string, 4)
	nb.OnLost(func(kind, key string) { lost <- kind + "/" + key })
	b.login(t, "carol")
	caller, _, callee, _ := callBob(t, a, b)

	proxy.cutOff()
	if h := next[gateway.Hangup](t, caller); h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("caller on a: %+v", h.Reason)
	}
	waitFor(t, 10*time.Second, "bob gone from a's view", func() bool { _, ok := ns[0].List(KindUser)["bob"]; return !ok })
	if err := ns[0].Claim(context.Background(), KindUser, "carol"); err != nil { // b's carol, free now
		t.Fatalf("claim carol on a while b is cut off: %v", err)
	}
	select {
	case ev := <-callee.ch:
		t.Fatalf("callee on b got %T while b was cut off", ev)
	case <-time.After(500 * time.Millisecond):
	}
	proxy.heal()
	if h := next[gateway.Hangup](t, callee); h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("callee on b: %+v", h.Reason)
	}
	waitFor(t, 10*time.Second, "bob back in a's view", func() bool { return ns[0].List(KindUser)["bob"] == "b" })
	select {
	case k := <-lost:
		if k != "user/carol" {
			t.Fatalf("b lost %s, want user/carol", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never learned it lost carol")
	}
	if node, _, _ := nb.Lookup(context.Background(), KindUser, "carol"); node != "a" {
		t.Fatalf("carol on %q after b came back, want a", node)
	}
}

// TestRemoteCallRingTimeout: the owner's ring timer ends an unanswered
// call on both legs, across nodes, as for a local callee.
func TestRemoteCallRingTimeout(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	cfg := gateway.DefaultConfig()
	cfg.RingTimeout = 300 * time.Millisecond
	a, b := newSiteWith(t, ns[0], cfg), newSite(t, ns[1])
	caller, call, callee, _ := callBob(t, a, b)
	callee.post(t, gateway.Ringing{Code: 180})
	next[gateway.Ringing](t, caller)
	for _, l := range []*recLeg{caller, callee} {
		if h := next[gateway.Hangup](t, l); h.Reason.Condition != gateway.CondTimeout || h.Reason.Code != 408 {
			t.Fatalf("%s: %+v, want timeout 408", l.kind, h.Reason)
		}
	}
	<-call.Done()
	waitFor(t, 10*time.Second, "endpoints gone", func() bool { return ns[0].calls.count() == 0 && ns[1].calls.count() == 0 })
}

// TestRemoteCallGap: a message missing from a call's sequence (here a
// forged one that skips ahead) ends that call on both sides with
// connectivity-error; garbage on the subject ends nothing.
func TestRemoteCallGap(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	a, b := newSite(t, ns[0]), newSite(t, ns[1])
	caller, call, callee, _ := callBob(t, a, b)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subj := ns[1].subj.call("b")
	for _, junk := range []string{"", "{", `{"c":"x","n":"a","s":1,"t":"offer","sdp":"nonsense"}`, `{"n":"../..","t":"bye","b":"1"}`} {
		if err := nc.Publish(subj, []byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	callee.post(t, gateway.Ringing{Code: 180}) // the call still works
	next[gateway.Ringing](t, caller)
	forged := mustJSON(callMsg{Call: call.ID(), Node: "a", Seq: 99, Type: "ringing", Code: 180})
	if err := nc.Publish(subj, forged); err != nil {
		t.Fatal(err)
	}
	if h := next[gateway.Hangup](t, callee); h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("callee: %+v", h.Reason)
	}
	if h := next[gateway.Hangup](t, caller); h.Reason.Condition != gateway.CondConnectivityError {
		t.Fatalf("caller: %+v", h.Reason)
	}
	<-call.Done()
}
