package cluster

import "testing"

// TestBoundedFIFO: a bounded queue refuses a push beyond its bound, hands
// over what waits in order, signals once per batch, and takes pushes again
// once emptied; an unbounded one never refuses.
func TestBoundedFIFO(t *testing.T) {
	q := newBoundedFIFO[int](3)
	for i := range 3 {
		if !q.push(i) {
			t.Fatalf("push %d of 3 refused", i)
		}
	}
	if q.push(3) {
		t.Fatal("a fourth item fit in a queue of 3")
	}
	select {
	case <-q.ready():
	default:
		t.Fatal("no signal after a push")
	}
	got := q.take()
	if len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("took %v, want [0 1 2]", got)
	}
	if q.take() != nil {
		t.Fatal("an emptied queue still holds items")
	}
	if !q.push(4) {
		t.Fatal("push refused after take")
	}
	if got := q.take(); len(got) != 1 || got[0] != 4 {
		t.Fatalf("took %v, want [4]", got)
	}

	u := newFIFO[int]()
	for i := range 1000 {
		if !u.push(i) {
			t.Fatalf("unbounded queue refused push %d", i)
		}
	}
	if n := len(u.take()); n != 1000 {
		t.Fatalf("took %d, want 1000", n)
	}
}
