package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// remoteTestLeg is a testLeg that says it lives on another node.
type remoteTestLeg struct {
	*testLeg
	node string
}

func (l remoteTestLeg) RemoteNode() string { return l.node }

// forkTestBranch is one branch of a test fork: the leg its dialer returns
// (nil: the dial fails with err) and the relay call the fork gave it.
type forkTestBranch struct {
	leg    *testLeg
	remote string // the leg is a RemoteLeg on this node
	err    error
	calls  chan *Call
}

func (b *forkTestBranch) dialer() Dialer {
	return DialerFunc(func(_ context.Context, req DialRequest) (Leg, error) {
		if b.err != nil {
			return nil, b.err
		}
		b.calls <- req.Call
		if b.remote != "" {
			return remoteTestLeg{b.leg, b.remote}, nil
		}
		return b.leg, nil
	})
}

// relay returns the relay call the branch was dialed with.
func (b *forkTestBranch) relay(t *testing.T) *Call {
	t.Helper()
	select {
	case c := <-b.calls:
		b.calls <- c
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("branch not dialed")
		return nil
	}
}

// post posts ev as the branch's leg, as an adapter would.
func (b *forkTestBranch) post(t *testing.T, ev Event) {
	t.Helper()
	var leg Leg = b.leg
	if b.remote != "" {
		leg = remoteTestLeg{b.leg, b.remote}
	}
	if err := b.relay(t).Post(leg, ev); err != nil {
		t.Fatalf("branch post %T: %v", ev, err)
	}
}

func (b *forkTestBranch) relayEnded(t *testing.T) {
	t.Helper()
	select {
	case <-b.relay(t).Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the branch's relay call did not end")
	}
}

type forkFixture struct {
	logs     *lockedBuffer // INFO records
	gw       *Gateway
	caller   *testLeg
	branches []*forkTestBranch
}

// newForkFixture is a gateway whose user: dialer forks to the branches.
func newForkFixture(cfg Config, branches ...*forkTestBranch) *forkFixture {
	r := NewRouter()
	r.Handle(SchemeUser, DialerFunc(func(ctx context.Context, req DialRequest) (Leg, error) {
		var bs []Branch
		for i, b := range branches {
			bs = append(bs, Branch{Name: fmt.Sprintf("b%d", i), Dialer: b.dialer()})
		}
		return Fork(ctx, req, bs)
	}))
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return &forkFixture{logs: logs, gw: New(cfg, r, log, NewMetrics(nil)), caller: newTestLeg("caller", browserCaps),
		branches: branches}
}

func newBranch(caps Caps) *forkTestBranch {
	return &forkTestBranch{leg: newTestLeg("sip", caps), calls: make(chan *Call, 1)}
}

func (f *forkFixture) place(t *testing.T) (*Call, error) {
	t.Helper()
	c, err := f.gw.Place(context.Background(), PlaceRequest{Caller: f.caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_audio_only.sdp")})
	if err == nil {
		t.Cleanup(func() { c.Hangup(ReasonShutdown); <-c.Done() })
	}
	return c, err
}

func waitCallDone(t *testing.T, c *Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("call did not end")
	}
}

// TestForkFirstAnswerWins: both branches get the offer and ring; the
// first answer reaches the caller, the other branch is hung up with
// "answered elsewhere" and its late answer goes nowhere; from then on
// only the winner hears the caller; the caller's hang-up ends it and
// every relay call.
func TestForkFirstAnswerWins(t *testing.T) {
	a, b := newBranch(sipCaps), newBranch(sipCaps)
	f := newForkFixture(Config{GatherMax: 50 * time.Millisecond}, a, b)
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	_ = call.Post(f.caller, EndOfCandidates{})
	nextAs[Offer](t, a.leg)
	nextAs[Offer](t, b.leg)
	a.post(t, Ringing{Code: 180})
	b.post(t, Ringing{Code: 180})
	if r := nextAs[Ringing](t, f.caller); r.Code != 180 {
		t.Errorf("ringing %d", r.Code)
	}
	b.post(t, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	nextAs[EndOfCandidates](t, f.caller) // a SIP answer is complete
	if h := nextAs[Hangup](t, a.leg); h.Reason != ReasonAnsweredElsewhere {
		t.Errorf("loser's hangup %+v, want answered elsewhere", h.Reason)
	}
	a.relayEnded(t)
	if err := a.relay(t).Post(a.leg, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); !errors.Is(err, ErrCallEnded) {
		t.Errorf("a late answer of the cut branch: %v, want call ended", err)
	}
	f.caller.none(t, 100*time.Millisecond) // the ringing was the only one, no second answer
	_ = call.Post(f.caller, DTMF{Digits: "1", Duration: 100 * time.Millisecond})
	nextAs[DTMF](t, b.leg)
	a.leg.none(t, 50*time.Millisecond)
	_ = call.Post(f.caller, Hangup{})
	if h := nextAs[Hangup](t, b.leg); h.Reason != ReasonSuccess {
		t.Errorf("winner's hangup %+v", h.Reason)
	}
	waitCallDone(t, call)
	b.relayEnded(t)
	if v := testutil.ToFloat64(f.gw.metrics.Calls.WithLabelValues("caller", "sip", "answered", "false")); v != 1 {
		t.Errorf("calls_total{remote=false} = %v", v)
	}
	if l := f.logs.String(); strings.Contains(l, "callee_node") {
		t.Errorf("a local call's end record has callee_node:\n%s", l)
	}
}

// TestForkAllFail: a dial refused (486), a branch declining (603) and one
// whose node went away (connectivity-error): the caller gets the best
// failure, 603, only once the last branch failed.
func TestForkAllFail(t *testing.T) {
	refused := &forkTestBranch{err: fmt.Errorf("on node x: %w", ErrBusy), calls: make(chan *Call, 1)}
	decline, lost := newBranch(sipCaps), newBranch(sipCaps)
	f := newForkFixture(Config{GatherMax: 50 * time.Millisecond}, refused, decline, lost)
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	nextAs[Offer](t, decline.leg)
	nextAs[Offer](t, lost.leg)
	decline.post(t, Hangup{Reason: ReasonFromSIP(603)})
	f.caller.none(t, 100*time.Millisecond)
	lost.post(t, Hangup{Reason: ReasonDisconnected})
	if h := nextAs[Hangup](t, f.caller); h.Reason.Code != 603 {
		t.Errorf("caller's hangup %+v, want 603", h.Reason)
	}
	waitCallDone(t, call)
	decline.relayEnded(t)
	lost.relayEnded(t)
}

// TestForkBranchLostMidRing: one branch's node dies while it rings (its
// leg posts connectivity-error) and another's leg fails its delivery: the
// call goes on with the branch left, which answers.
func TestForkBranchLostMidRing(t *testing.T) {
	lost, broken, ok := newBranch(sipCaps), newBranch(sipCaps), newBranch(sipCaps)
	f := newForkFixture(Config{GatherMax: time.Hour, GatherQuiet: time.Hour}, lost, broken, ok)
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	broken.leg.setFail()
	_ = call.Post(f.caller, EndOfCandidates{})
	nextAs[Offer](t, lost.leg)
	nextAs[Offer](t, ok.leg)
	broken.relayEnded(t)
	lost.post(t, Ringing{Code: 180})
	nextAs[Ringing](t, f.caller)
	lost.post(t, Hangup{Reason: ReasonDisconnected})
	lost.relayEnded(t)
	f.caller.none(t, 100*time.Millisecond)
	ok.post(t, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	nextAs[EndOfCandidates](t, f.caller)
	ok.post(t, Hangup{})
	if h := nextAs[Hangup](t, f.caller); h.Reason.Condition != CondSuccess {
		t.Errorf("caller's hangup %+v", h.Reason)
	}
	waitCallDone(t, call)
	ok.relayEnded(t)
}

// TestForkCallerCancels: the caller hangs up while both branches ring:
// both get the cancel and their relay calls end.
func TestForkCallerCancels(t *testing.T) {
	a, b := newBranch(browserCaps), newBranch(browserCaps)
	f := newForkFixture(Config{}, a, b)
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	nextAs[Offer](t, a.leg)
	nextAs[Offer](t, b.leg)
	_ = call.Post(f.caller, Hangup{})
	for _, br := range []*forkTestBranch{a, b} {
		if h := nextAs[Hangup](t, br.leg); h.Reason.Condition != CondCancel {
			t.Errorf("branch hangup %+v, want cancel", h.Reason)
		}
		br.relayEnded(t)
	}
	waitCallDone(t, call)
	b.post2(t) // a branch's answer after the end goes nowhere
}

// post2 is a branch answering after its call ended: the relay refuses it.
func (b *forkTestBranch) post2(t *testing.T) {
	t.Helper()
	if err := b.relay(t).Post(b.leg, Answer{}); !errors.Is(err, ErrCallEnded) {
		t.Errorf("post after the end: %v, want call ended", err)
	}
}

// TestForkDialsAllRefused: when no branch could be dialed, Place fails
// with the best error (busy over overloaded), or offline when none says
// anything about the callee; the caller's call slot is given back.
func TestForkDialsAllRefused(t *testing.T) {
	for _, tt := range []struct {
		errs []error
		want error
	}{
		{[]error{ErrOverloaded, ErrBusy}, ErrBusy},
		{[]error{ErrOverloaded, ErrOffline}, ErrOffline},
	} {
		var bs []*forkTestBranch
		for _, e := range tt.errs {
			bs = append(bs, &forkTestBranch{err: e, calls: make(chan *Call, 1)})
		}
		f := newForkFixture(Config{MaxCallsPerUser: 1}, bs...)
		if _, err := f.place(t); !errors.Is(err, tt.want) {
			t.Errorf("%v: %v, want %v", tt.errs, err, tt.want)
		}
		if n := len(f.gw.perUser); n != 0 {
			t.Errorf("%d users hold call slots", n)
		}
	}
}

// TestForkTakesOneCallSlot: a fork to two branches is one call of the
// caller's (MaxCallsPerUser 1 lets it through and refuses a second), and
// a remote winner makes the call remote in sigbridge_calls_total.
func TestForkTakesOneCallSlot(t *testing.T) {
	a, b := newBranch(sipCaps), newBranch(sipCaps)
	b.remote = "n2"
	f := newForkFixture(Config{MaxCallsPerUser: 1, GatherMax: 50 * time.Millisecond}, a, b)
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.place(t); !errors.Is(err, ErrTooManyCalls) {
		t.Errorf("second call: %v, want too many calls", err)
	}
	nextAs[Offer](t, a.leg)
	nextAs[Offer](t, b.leg)
	if n := call.legs[callee].(RemoteLeg).RemoteNode(); n != "n2" {
		t.Errorf("unanswered fork's remote node %q, want n2", n)
	}
	b.post(t, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	nextAs[Hangup](t, a.leg)
	_ = call.Post(f.caller, Hangup{})
	waitCallDone(t, call)
	if v := testutil.ToFloat64(f.gw.metrics.Calls.WithLabelValues("caller", "sip", "answered", "true")); v != 1 {
		t.Errorf("calls_total{remote=true} = %v", v)
	}
	if l := f.logs.String(); !strings.Contains(l, `msg="call ended"`) || !strings.Contains(l, "callee_node=n2") {
		t.Errorf("the call's end record lacks callee_node=n2:\n%s", l)
	}
}

// TestForkCaps: the fork offers what every branch can do.
func TestForkCaps(t *testing.T) {
	a, b := newBranch(browserCaps), newBranch(Caps{Trickle: true})
	f := newForkFixture(Config{}, a, b)
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	if c := call.legs[callee].Caps(); c != (Caps{Trickle: true}) {
		t.Errorf("caps %+v", c)
	}
}

func TestBestFailure(t *testing.T) {
	for _, tt := range []struct {
		codes []int
		want  int
	}{
		{[]int{480, 486, 603}, 603},
		{[]int{480, 404, 486}, 486},
		{[]int{480, 404, 503}, 404},
		{[]int{480, 503, 408, 487}, 480},
	} {
		var rs []Reason
		for _, c := range tt.codes {
			rs = append(rs, ReasonFromSIP(c))
		}
		if got := BestFailure(rs).Code; got != tt.want {
			t.Errorf("%v: %d, want %d", tt.codes, got, tt.want)
		}
	}
}

// gatedLeg is a testLeg whose delivery of a Hangup waits for gate.
type gatedLeg struct {
	*testLeg
	gate chan struct{}
}

func (l gatedLeg) Deliver(ev Event) error {
	if _, ok := ev.(Hangup); ok {
		<-l.gate
	}
	return l.testLeg.Deliver(ev)
}

// TestForkLateAnswer: a branch answers after another won but before its
// cancel went out: its answer goes nowhere and it is hung up once.
func TestForkLateAnswer(t *testing.T) {
	a, b := newBranch(sipCaps), newBranch(sipCaps)
	gate := make(chan struct{})
	r := NewRouter()
	r.Handle(SchemeUser, DialerFunc(func(ctx context.Context, req DialRequest) (Leg, error) {
		da := DialerFunc(func(_ context.Context, req DialRequest) (Leg, error) {
			a.calls <- req.Call
			return gatedLeg{a.leg, gate}, nil
		})
		return Fork(ctx, req, []Branch{{Name: "a", Dialer: da}, {Name: "b", Dialer: b.dialer()}})
	}))
	f := &forkFixture{gw: New(Config{GatherMax: 50 * time.Millisecond}, r, nil, NewMetrics(nil)),
		caller: newTestLeg("caller", browserCaps)}
	call, err := f.place(t)
	if err != nil {
		t.Fatal(err)
	}
	nextAs[Offer](t, a.leg)
	nextAs[Offer](t, b.leg)
	b.post(t, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	if err := a.relay(t).Post(a.leg, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); err != nil {
		t.Fatalf("a's answer before its cancel: %v", err)
	}
	close(gate)
	if h := nextAs[Hangup](t, a.leg); h.Reason != ReasonAnsweredElsewhere {
		t.Errorf("late branch's hangup %+v", h.Reason)
	}
	a.leg.none(t, 100*time.Millisecond) // once
	nextAs[EndOfCandidates](t, f.caller)
	f.caller.none(t, 100*time.Millisecond) // no second answer
	_ = call.Post(f.caller, Hangup{})
	waitCallDone(t, call)
}
