package gateway

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// TestInboxClaims: the first push to an idle inbox claims it (for the
// poster itself when inline, else for a new goroutine); pushes while it
// is claimed queue; release gives it up only when nothing is queued.
func TestInboxClaims(t *testing.T) {
	b := &inbox{max: 4}
	if cl, err := b.push(envelope{ev: ringTimeout{}}, true); cl != claimInline || err != nil {
		t.Fatalf("inline push to an idle inbox: %v %v, want claimInline", cl, err)
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, false); cl != claimNone {
		t.Fatalf("push to a claimed inbox: %v, want claimNone", cl)
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, true); cl != claimNone {
		t.Fatalf("inline push to a claimed inbox: %v, want claimNone", cl)
	}
	if q := b.take(); len(q) != 3 || q[0].ev.EventName() != "ring-timeout" {
		t.Fatalf("take: %v, want the three events oldest first", q)
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, false); cl != claimNone {
		t.Fatalf("push while the claimant handles a batch: %v", cl)
	}
	if b.release() {
		t.Fatal("release with an event queued gave the claim up")
	}
	if q := b.take(); len(q) != 1 {
		t.Fatalf("take: %d events, want 1", len(q))
	}
	if !b.release() {
		t.Fatal("release of an empty inbox kept the claim")
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, false); cl != claimServe {
		t.Fatalf("push to an idle inbox: %v, want claimServe", cl)
	}
	if q := b.take(); len(q) != 1 {
		t.Fatalf("take: %d events, want 1", len(q))
	}
	if q := b.take(); len(q) != 0 {
		t.Fatalf("take of an empty inbox: %d events", len(q))
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, true); cl != claimInline {
		t.Fatalf("take of an empty inbox did not make it idle: %v", cl)
	}
	b.close()
	if _, err := b.push(envelope{ev: offerTimeout{}}, true); err != ErrCallEnded {
		t.Fatalf("push after close: %v, want ErrCallEnded", err)
	}
}

// TestInboxWait: a goroutine in wait is woken by a push that cannot be
// handled inline and claims the inbox; an inline push is handled by its
// poster while the goroutine keeps waiting; poke makes it check its stay
// condition, close ends it. Every step is synchronised on the inbox's
// own state (parked), not on time.
func TestInboxWait(t *testing.T) {
	b := &inbox{max: 4}
	var stay atomic.Bool
	stay.Store(true)
	got := make(chan bool)
	waitParked := func() {
		t.Helper()
		for {
			b.mu.Lock()
			p := b.parked
			b.mu.Unlock()
			if p {
				return
			}
			select {
			case r := <-got:
				t.Fatalf("wait returned %v before anything happened", r)
			default:
			}
			runtime.Gosched()
		}
	}
	start := func() { go func() { got <- b.wait(stay.Load) }() }

	start()
	waitParked()
	if cl, _ := b.push(envelope{ev: ringTimeout{}}, true); cl != claimInline {
		t.Fatalf("inline push while a goroutine waits: %v, want claimInline", cl)
	}
	if q := b.take(); len(q) != 1 || !b.release() {
		t.Fatalf("inline claimant: took %d events", len(q))
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, false); cl != claimNone {
		t.Fatalf("push while a goroutine waits: %v, want claimNone (it is woken)", cl)
	}
	if !<-got {
		t.Fatal("woken wait did not claim the inbox")
	}
	if q := b.take(); len(q) != 1 || q[0].ev.EventName() != "offer-timeout" {
		t.Fatalf("take after wait: %v", q)
	}
	if q := b.take(); len(q) != 0 {
		t.Fatalf("take: %d events, want none", len(q))
	}

	start()
	waitParked()
	stay.Store(false)
	b.poke()
	if <-got {
		t.Fatal("wait claimed the inbox after its stay condition went false")
	}
	if cl, _ := b.push(envelope{ev: offerTimeout{}}, false); cl != claimServe {
		t.Fatalf("push after the waiting goroutine left: %v, want claimServe", cl)
	}
	_ = b.take()
	_ = b.take()

	stay.Store(true)
	start()
	waitParked()
	b.close()
	if <-got {
		t.Fatal("wait claimed a closed inbox")
	}
}

// TestInboxOneSlot: a lone event is queued in the inbox's own array, which
// is not written again while the claimant's batch is in it, and a push
// of one event to an idle inbox allocates nothing.
func TestInboxOneSlot(t *testing.T) {
	b := &inbox{max: 4}
	b.push(envelope{ev: offerTimeout{gen: 1}}, true)
	batch := b.take()
	b.push(envelope{ev: offerTimeout{gen: 2}}, false) // while batch is handled
	if len(batch) != 1 || batch[0].ev != (offerTimeout{gen: 1}) {
		t.Fatalf("the taken batch changed: %v", batch)
	}
	if q := b.take(); len(q) != 1 || q[0].ev != (offerTimeout{gen: 2}) {
		t.Fatalf("take: %v", q)
	}
	if !b.release() || b.one.Elem() != (envelope{}) {
		t.Fatalf("release kept the claim or the handled event: %v", b.one.Elem())
	}
	ev := Event(offerTimeout{gen: 3})
	allocs := testing.AllocsPerRun(100, func() {
		b.push(envelope{ev: ev}, true)
		if q := b.take(); len(q) != 1 || q[0].ev != ev {
			t.Fatalf("take: %v", q)
		}
		b.release()
	})
	if allocs != 0 {
		t.Fatalf("push, take, release: %v allocations, want 0", allocs)
	}
}
