package sip

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// batchTestLeg is a testLeg that is a gateway.Batcher (as a browser leg
// is): it records whether each event came inside a batch.
type batchTestLeg struct {
	*testLeg
	mu      sync.Mutex
	open    int
	inBatch map[string]bool
}

func (l *batchTestLeg) BeginBatch() { l.mu.Lock(); l.open++; l.mu.Unlock() }
func (l *batchTestLeg) EndBatch()   { l.mu.Lock(); l.open--; l.mu.Unlock() }

func (l *batchTestLeg) Deliver(ev gateway.Event) error {
	l.mu.Lock()
	l.inBatch[ev.EventName()] = l.open > 0
	l.mu.Unlock()
	return l.testLeg.Deliver(ev)
}

// TestRingingWithQueuedAnswer: a callee that answers at once sends 100,
// 180 and 200 back to back (SIPp's uas_answer.xml); when the 200 is queued
// behind the 180 as the leg takes it, the ringing reaches the browser leg
// in one batch with the answer (one write to the browser), and before it.
func TestRingingWithQueuedAnswer(t *testing.T) {
	testAwaitAnswer = func(tx sip.ClientTransaction) {
		// Let the 100, 180 and 200 all be queued first.
		for deadline := time.Now().Add(10 * time.Second); len(tx.Responses()) < 3 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	t.Cleanup(func() { testAwaitAnswer = nil })
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_answer.xml", "")
	caller := &batchTestLeg{testLeg: newTestLeg("alice"), inBatch: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call, err := env.gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: "alice", Target: "sip:bob@" + uas.addr,
		Offer: mustSDP(t, webrtcSDP("actpass", "alic", 30000))})
	if err != nil {
		t.Fatal(err)
	}
	caller.call = call
	if ev := caller.next(t, 15*time.Second); ev.EventName() != "ringing" {
		t.Fatalf("first event %s, want ringing", ev.EventName())
	}
	expectAnswer(t, caller.testLeg)
	caller.mu.Lock()
	ringing, answer := caller.inBatch["ringing"], caller.inBatch["answer"]
	caller.mu.Unlock()
	if !ringing || !answer {
		t.Errorf("ringing in a batch: %v, answer: %v; want both", ringing, answer)
	}
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t)
	waitDone(t, call)
}
