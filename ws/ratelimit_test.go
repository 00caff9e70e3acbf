package ws

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(20, 40, t0)
	for i := range 40 {
		if !b.allow(t0) {
			t.Fatalf("message %d of the burst refused", i)
		}
	}
	if b.allow(t0) {
		t.Fatal("41st message at once allowed")
	}
	if !b.allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("no token after 1/rate")
	}
	if b.allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("two tokens after 1/rate")
	}
	// A long pause refills to the burst, not beyond.
	t1 := t0.Add(time.Hour)
	n := 0
	for b.allow(t1) {
		n++
	}
	if n != 40 {
		t.Fatalf("after a pause %d messages allowed, want 40", n)
	}
}

func TestBucketSteadyRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := newBucket(20, 1, t0)
	for i := 1; i <= 100; i++ {
		if !b.allow(t0.Add(time.Duration(i) * 50 * time.Millisecond)) {
			t.Fatalf("message %d at exactly the rate refused", i)
		}
	}
}
