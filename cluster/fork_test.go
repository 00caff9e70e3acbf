package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	sbsip "github.com/sigbridge/sigbridge/sip"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

// forkEnv is three nodes with SIP adapters; bob registers one UA at each
// of the first two (over TCP), and a caller on the third calls him.
type forkEnv struct {
	ns     []*Node
	sites  []*sipSite
	uas    []*siptest.StreamUA // bob at a, bob at b
	caller *recLeg
	call   *gateway.Call
}

func newForkEnv(t *testing.T, setup func(uas []*siptest.StreamUA, ns []*Node)) *forkEnv {
	t.Helper()
	srv := natstest.Start(t)
	e := &forkEnv{ns: startNodes(t, srv, "a", "b", "c")}
	for _, n := range e.ns {
		e.sites = append(e.sites, newSIPSite(t, n))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range e.sites[:2] {
		ua, err := siptest.DialStream(ctx, "TCP", s.a.AddrOf("tcp"), sbsip.DefaultWSPath, "bob")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ua.Close() })
		e.uas = append(e.uas, ua)
	}
	setup(e.uas, e.ns)
	for _, ua := range e.uas {
		if res, err := ua.Register(ctx, bindingRealm, "bobpass", 300); err != nil || res.StatusCode != 200 {
			t.Fatalf("REGISTER: %v %v", res, err)
		}
	}
	waitFor(t, 10*time.Second, "node c sees bob@a and bob@b", func() bool {
		l := e.ns[2].List(KindSIPBinding)
		return l["bob@a"] == "a" && l["bob@b"] == "b"
	})
	offer, err := gateway.ParseSDP(readSDP(t, "chrome156_offer_audio_only.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	e.caller = newRecLeg("caller")
	e.call, err = e.sites[2].gw.Place(ctx, gateway.PlaceRequest{Caller: e.caller, From: "alice",
		Target: "sip:bob@" + bindingRealm, Offer: offer})
	if err != nil {
		t.Fatalf("place on node c: %v", err)
	}
	e.caller.setCall(e.call)
	e.caller.post(t, gateway.EndOfCandidates{Mid: "0"})
	return e
}

// audioAnswer is Chrome's answer cut to its audio m-line (the offer's).
func audioAnswer(t *testing.T) string {
	s := readSDP(t, "chrome156_answer_recvonly_gathered.sdp")
	s, _, _ = strings.Cut(s, "m=video")
	return strings.Replace(s, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0", 1)
}

func waitEnded(t *testing.T, c *gateway.Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("call did not end")
	}
}

// TestSIPForkAcrossNodes: bob has a binding at node a and one at node b;
// a call placed on node c rings both; b's UA answers, a's gets a CANCEL
// saying the call was completed elsewhere, and the caller's hang-up
// reaches the winner as a BYE.
func TestSIPForkAcrossNodes(t *testing.T) {
	ringing := make(chan struct{})
	e := newForkEnv(t, func(uas []*siptest.StreamUA, _ []*Node) {
		uas[1].Answer = func(*sip.Request) (int, string) {
			select { // answer once both UAs ring
			case <-ringing:
			case <-time.After(10 * time.Second):
			}
			return 200, audioAnswer(t)
		}
	})
	for i, ua := range e.uas {
		if _, err := ua.WaitRequest("INVITE", 10*time.Second); err != nil {
			t.Fatalf("bob's UA at node %s: %v", e.ns[i].Name(), err)
		}
	}
	close(ringing)
	afterRinging[gateway.Answer](t, e.caller) // a's 180 may come after b's 200
	cancel, err := e.uas[0].WaitRequest("CANCEL", 10*time.Second)
	if err != nil {
		t.Fatalf("the UA at node a: %v", err)
	}
	if h := cancel.GetHeader("Reason"); h == nil || !strings.Contains(h.Value(), "cause=200") {
		t.Errorf("CANCEL Reason %v, want SIP;cause=200 (completed elsewhere)", h)
	}
	if _, err := e.uas[1].WaitRequest("ACK", 10*time.Second); err != nil {
		t.Fatalf("the winner: %v", err)
	}
	e.caller.post(t, gateway.Hangup{})
	if _, err := e.uas[1].WaitRequest("BYE", 10*time.Second); err != nil {
		t.Errorf("the winner at node b: %v", err)
	}
	waitEnded(t, e.call)
	if _, err := e.uas[0].WaitRequest("BYE", 300*time.Millisecond); err == nil {
		t.Error("the cancelled branch got a BYE")
	}
}

// TestSIPForkAcrossNodesAllDecline: both UAs refuse (486 at a, 603 at
// b): the caller gets the best failure, 603.
func TestSIPForkAcrossNodesAllDecline(t *testing.T) {
	e := newForkEnv(t, func(uas []*siptest.StreamUA, _ []*Node) {
		uas[0].Answer = func(*sip.Request) (int, string) { return 486, "" }
		uas[1].Answer = func(*sip.Request) (int, string) { return 603, "" }
	})
	if h := afterRinging[gateway.Hangup](t, e.caller); h.Reason.Code != 603 {
		t.Errorf("hangup %+v, want 603", h.Reason)
	}
	waitEnded(t, e.call)
}

// TestSIPForkNodeDiesMidRing: node a dies (no bye) while both UAs ring:
// its branch drops, the call goes on ringing at b, whose UA answers.
func TestSIPForkNodeDiesMidRing(t *testing.T) {
	answer := make(chan struct{})
	e := newForkEnv(t, func(uas []*siptest.StreamUA, _ []*Node) {
		uas[1].Answer = func(*sip.Request) (int, string) {
			select {
			case <-answer:
			case <-time.After(20 * time.Second):
			}
			return 200, audioAnswer(t)
		}
	})
	for i, ua := range e.uas {
		if _, err := ua.WaitRequest("INVITE", 10*time.Second); err != nil {
			t.Fatalf("bob's UA at node %s: %v", e.ns[i].Name(), err)
		}
	}
	crash(e.ns[0])
	waitFor(t, 10*time.Second, "node c sees node a dead", func() bool { return len(e.ns[2].Nodes()) == 2 })
	time.Sleep(200 * time.Millisecond) // the lost branch is gone, the call still rings
	select {
	case <-e.call.Done():
		t.Fatal("the call ended with node a")
	default:
	}
	close(answer)
	afterRinging[gateway.Answer](t, e.caller)
	e.caller.post(t, gateway.Hangup{})
	if _, err := e.uas[1].WaitRequest("BYE", 10*time.Second); err != nil {
		t.Errorf("the winner at node b: %v", err)
	}
	waitEnded(t, e.call)
}

// afterRinging is next, skipping ringing.
func afterRinging[T gateway.Event](t *testing.T, l *recLeg) T {
	t.Helper()
	for {
		select {
		case ev := <-l.ch:
			if _, ok := ev.(gateway.Ringing); ok {
				continue
			}
			v, ok := ev.(T)
			if !ok {
				var zero T
				t.Fatalf("%s leg: got %T %+v, want %T", l.kind, ev, ev, zero)
			}
			return v
		case <-time.After(15 * time.Second):
			var zero T
			t.Fatalf("%s leg: nothing delivered, want %T", l.kind, zero)
			return zero
		}
	}
}

// TestSIPForkBranchRefused: node b refuses its branch (overloaded: 503):
// that is one failed branch, and the call rings on at node a, whose UA
// answers.
func TestSIPForkBranchRefused(t *testing.T) {
	e := newForkEnv(t, func(uas []*siptest.StreamUA, ns []*Node) {
		uas[0].Answer = func(*sip.Request) (int, string) { return 200, audioAnswer(t) }
		ns[1].SetAdmission(func() error { return gateway.ErrOverloaded })
	})
	afterRinging[gateway.Answer](t, e.caller)
	if _, err := e.uas[1].WaitRequest("INVITE", 300*time.Millisecond); err == nil {
		t.Error("the refusing node rang its UA")
	}
	e.caller.post(t, gateway.Hangup{})
	if _, err := e.uas[0].WaitRequest("BYE", 10*time.Second); err != nil {
		t.Errorf("the winner at node a: %v", err)
	}
	waitEnded(t, e.call)
}
