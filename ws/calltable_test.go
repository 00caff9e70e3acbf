package ws

import (
	"errors"
	"testing"
)

// TestCallTable: calls are found by callId (and checked against the
// target when one is given), a callId is taken once, and removal or
// closing frees it.
func TestCallTable(t *testing.T) {
	var tb callTable
	a := &leg{callID: "c-1", peerKey: "alice"}
	b := &leg{callID: "c-2", peerKey: "bob"}
	anon := &leg{peerKey: "carol"} // an old client without callIds
	for _, l := range []*leg{a, b, anon} {
		if err := tb.add(l, false); err != nil {
			t.Fatalf("add %+v: %v", l, err)
		}
	}
	if err := tb.add(&leg{callID: "c-1", peerKey: "dave"}, false); !errors.Is(err, ErrCallIDInUse) {
		t.Fatalf("second c-1: %v, want ErrCallIDInUse", err)
	}
	if got, err := tb.find("c-2", ""); err != nil || got != b {
		t.Fatalf("find c-2: %v, %v", got, err)
	}
	if got, err := tb.find("c-2", "bob"); err != nil || got != b {
		t.Fatalf("find c-2 with its target: %v, %v", got, err)
	}
	if _, err := tb.find("c-2", "alice"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("find c-2 with another target: %v, want ErrMalformed", err)
	}
	if got, err := tb.find("", "carol"); err != nil || got != anon {
		t.Fatalf("find by target alone: %v, %v", got, err)
	}
	if !tb.remove(a) || tb.remove(a) {
		t.Fatal("remove a: want true once")
	}
	if _, err := tb.find("c-1", ""); !errors.Is(err, ErrNoSuchCall) {
		t.Fatalf("find removed c-1: %v, want ErrNoSuchCall", err)
	}
	if err := tb.add(&leg{callID: "c-1", peerKey: "dave"}, false); err != nil {
		t.Fatalf("c-1 again after removal: %v", err)
	}
	if n := len(tb.close()); n != 3 || tb.count() != 0 {
		t.Fatalf("close: %d legs, %d left; want 3, 0", n, tb.count())
	}
	if _, err := tb.find("c-2", ""); !errors.Is(err, ErrNoSuchCall) {
		t.Fatalf("find after close: %v, want ErrNoSuchCall", err)
	}
	if err := tb.add(&leg{callID: "c-9"}, false); err == nil {
		t.Fatal("add after close: no error")
	}
}
