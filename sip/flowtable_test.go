package sip

import "testing"

type nopFlowLeg struct{ id int }

func (*nopFlowLeg) flowGone() {}

// TestFlowTableIndex: on(f) returns exactly the legs bound to f, a key moved
// to another flow leaves its old one, and removing every key leaves no index.
func TestFlowTableIndex(t *testing.T) {
	tb := newFlowTable()
	ws1 := flow{transport: "WS", remote: "127.0.0.1:1"}
	ws2 := flow{transport: "WS", remote: "127.0.0.1:2"}
	a, b, c := &nopFlowLeg{1}, &nopFlowLeg{2}, &nopFlowLeg{3}
	tb.add("a", ws1, a)
	tb.add("b", ws1, b)
	tb.add("c", ws2, c)
	if got := len(tb.on(ws1)); got != 2 {
		t.Fatalf("on(ws1) = %d legs, want 2", got)
	}
	tb.add("b", ws2, b) // rebound
	if got := tb.on(ws1); len(got) != 1 || got[0] != a {
		t.Fatalf("on(ws1) after rebinding b = %v, want [a]", got)
	}
	if got := len(tb.on(ws2)); got != 2 {
		t.Fatalf("on(ws2) = %d legs, want 2", got)
	}
	for _, k := range []string{"a", "b", "c", "missing"} {
		tb.remove(k)
	}
	if tb.count() != 0 || len(tb.byFlow) != 0 {
		t.Fatalf("after removing all: %d entries, %d flows indexed", tb.count(), len(tb.byFlow))
	}
}
