package ws

import "testing"

// TestOutQueueOneSlot: a lone message is queued in the queue's own array,
// which is not written while the writer's batch is in it, and a push of
// one message to an idle queue allocates nothing.
func TestOutQueueOneSlot(t *testing.T) {
	q := newOutQueue(4)
	open := func() bool { return false }
	a, b := []byte("a"), []byte("b")
	q.push(a)
	batch, _ := q.next(open)
	q.push(b) // while the writer writes batch
	if len(batch) != 1 || string(batch[0]) != "a" {
		t.Fatalf("the writer's batch changed: %q", batch)
	}
	if q.settle(open) != true {
		t.Fatal("settle with a message queued reported idle")
	}
	if msgs, _ := q.next(open); len(msgs) != 1 || string(msgs[0]) != "b" {
		t.Fatalf("next: %q", msgs)
	}
	if q.settle(open) || q.one.Elem() != nil {
		t.Fatalf("settle of an empty queue: not idle, or the written message kept: %q", q.one.Elem())
	}
	allocs := testing.AllocsPerRun(100, func() {
		if ok, start := q.push(a); !ok || !start {
			t.Fatal("push to an idle queue")
		}
		if msgs, _ := q.next(open); len(msgs) != 1 {
			t.Fatalf("next: %q", msgs)
		}
		q.settle(open)
	})
	if allocs != 0 {
		t.Fatalf("push, next, settle: %v allocations, want 0", allocs)
	}
}
