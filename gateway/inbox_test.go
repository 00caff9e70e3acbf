package gateway

import (
	"testing"
	"time"
)

// TestInboxTakeWait: takeWait waits for the next push (which then needs no
// new goroutine: the inbox stays busy), and for the close of the call.
func TestInboxTakeWait(t *testing.T) {
	b := &inbox{max: 4}
	if start, err := b.push(envelope{ev: ringTimeout{}}); !start || err != nil {
		t.Fatalf("first push: start %v err %v, want a start", start, err)
	}
	if got := b.take(); len(got) != 1 {
		t.Fatalf("take: %d events, want 1", len(got))
	}
	got := make(chan []envelope)
	go func() { got <- b.takeWait() }()
	select {
	case q := <-got:
		t.Fatalf("takeWait returned %d events with none queued", len(q))
	case <-time.After(50 * time.Millisecond):
	}
	if start, err := b.push(envelope{ev: offerTimeout{}}); start || err != nil {
		t.Fatalf("push while takeWait waits: start %v err %v, want no new goroutine", start, err)
	}
	if q := <-got; len(q) != 1 || q[0].ev.EventName() != "offer-timeout" {
		t.Fatalf("takeWait after a push: %v", q)
	}
	go func() { got <- b.takeWait() }()
	b.close()
	if q := <-got; len(q) != 0 {
		t.Fatalf("takeWait after close: %d events, want none", len(q))
	}
}
