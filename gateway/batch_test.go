package gateway

import (
	"context"
	"sync"
	"testing"
	"time"
)

// batchLeg is a testLeg that is a Batcher: it records, for each event, whether
// it was delivered inside a batch, and how many batches ended.
type batchLeg struct {
	*testLeg
	mu      sync.Mutex
	open    int
	ended   int
	inBatch map[string]bool
	endedCh chan struct{} // a send per EndBatch, while its buffer has room
}

func newBatchLeg(name string) *batchLeg {
	return &batchLeg{testLeg: newTestLeg(name, browserCaps), inBatch: map[string]bool{}, endedCh: make(chan struct{}, 8)}
}

func (l *batchLeg) BeginBatch() { l.mu.Lock(); l.open++; l.mu.Unlock() }

func (l *batchLeg) EndBatch() {
	l.mu.Lock()
	l.open--
	l.ended++
	l.mu.Unlock()
	select {
	case l.endedCh <- struct{}{}:
	default: // nobody waits for that many
	}
}

// waitBatchEnded waits for an EndBatch: the call ends the batch after the
// last event's Deliver returned, so a test that read that event may get
// there first.
func (l *batchLeg) waitBatchEnded(t *testing.T) {
	t.Helper()
	select {
	case <-l.endedCh:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch ended within 10 s")
	}
}

func (l *batchLeg) Deliver(ev Event) error {
	l.mu.Lock()
	l.inBatch[ev.EventName()] = l.open > 0
	l.mu.Unlock()
	return l.testLeg.Deliver(ev)
}

// placeToSIPLeg places a call from a batching browser-like leg to a SIP-like
// test leg, the caller's candidates complete, and returns once the callee
// has the offer.
func placeToSIPLeg(t *testing.T) (*Call, *batchLeg, *testLeg) {
	t.Helper()
	r := NewRouter()
	callee := newTestLeg("callee", sipCaps)
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(Config{GatherQuiet: time.Hour, GatherMax: time.Hour}, r, nil, NewMetrics(nil))
	caller := newBatchLeg("caller")
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_av_dc_initial.sdp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.Hangup(ReasonShutdown); <-call.Done() })
	_ = call.Post(caller, EndOfCandidates{})
	nextAs[Offer](t, callee)
	return call, caller, callee
}

// TestAnswerAndEndOfCandidatesBatched: a complete SIP answer reaches a
// browser leg as the answer and end-of-candidates inside one batch, which
// ends before the bridge goes on; ringing is not batched.
func TestAnswerAndEndOfCandidatesBatched(t *testing.T) {
	call, caller, callee := placeToSIPLeg(t)
	_ = call.Post(callee, Ringing{})
	nextAs[Ringing](t, caller.testLeg)
	_ = call.Post(callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_gathered.sdp")})
	nextAs[Answer](t, caller.testLeg)
	nextAs[EndOfCandidates](t, caller.testLeg)
	caller.waitBatchEnded(t)
	caller.mu.Lock()
	defer caller.mu.Unlock()
	if !caller.inBatch["answer"] || !caller.inBatch["end-of-candidates"] {
		t.Errorf("answer or end-of-candidates delivered outside a batch: %v", caller.inBatch)
	}
	if caller.inBatch["ringing"] {
		t.Error("ringing delivered inside a batch")
	}
	if caller.open != 0 || caller.ended != 1 {
		t.Errorf("%d batches open, %d ended; want 0 and 1", caller.open, caller.ended)
	}
}

// TestPostInlineAllBatched: events a leg posts together (a SIP leg's
// ringing and the answer queued behind it) reach a browser leg inside one
// batch, in order, and every batch opened is ended.
func TestPostInlineAllBatched(t *testing.T) {
	call, caller, callee := placeToSIPLeg(t)
	if err := call.PostInlineAll(callee, Ringing{}, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_gathered.sdp")}); err != nil {
		t.Fatal(err)
	}
	nextAs[Ringing](t, caller.testLeg)
	nextAs[Answer](t, caller.testLeg)
	nextAs[EndOfCandidates](t, caller.testLeg)
	caller.waitBatchEnded(t) // the bridge's, around the answer and end-of-candidates
	caller.waitBatchEnded(t) // the inbox batch's
	caller.mu.Lock()
	defer caller.mu.Unlock()
	for _, ev := range []string{"ringing", "answer", "end-of-candidates"} {
		if !caller.inBatch[ev] {
			t.Errorf("%s delivered outside a batch: %v", ev, caller.inBatch)
		}
	}
	if caller.open != 0 {
		t.Errorf("%d batches still open", caller.open)
	}
}
