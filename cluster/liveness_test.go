package cluster

import (
	"testing"
	"time"
)

// TestLiveness: a later boot replaces an earlier one for good; silence
// kills only while this node is connected, and only after a full timeout
// since it (re)connected.
func TestLiveness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	self := holder{"a", newBoot(t0)}
	l := newLiveness(self, 3*time.Second)
	l.setConnected(true, t0)
	b1 := holder{"b", newBoot(t0)}
	b2 := holder{"b", newBoot(t0.Add(time.Second))}
	if _, changed := l.heard(b1, t0, false); !changed || !l.alive(b1) {
		t.Fatal("first heartbeat: b1 not alive")
	}
	if replaced, _ := l.heard(b2, t0.Add(time.Second), false); replaced != b1 {
		t.Fatalf("b2 replaced %v, want b1", replaced)
	}
	if l.alive(b1) || !l.stale(b1) || !l.alive(b2) || l.stale(b2) {
		t.Fatal("after b2: b1 must be stale, b2 alive")
	}
	if _, changed := l.heard(b1, t0.Add(2*time.Second), false); changed || l.alive(b1) {
		t.Fatal("a heartbeat of the earlier boot revived it")
	}
	// Disconnected: nobody is judged, however long.
	l.setConnected(false, t0.Add(2*time.Second))
	if dead := l.check(t0.Add(time.Minute)); len(dead) != 0 {
		t.Fatalf("judged while disconnected: %v", dead)
	}
	// Back: b2 gets a full timeout from the reconnection.
	back := t0.Add(time.Minute)
	l.setConnected(true, back)
	if dead := l.check(back.Add(2 * time.Second)); len(dead) != 0 {
		t.Fatalf("judged within the grace after reconnecting: %v", dead)
	}
	if dead := l.check(back.Add(4 * time.Second)); len(dead) != 1 || dead[0] != b2 {
		t.Fatalf("dead %v, want b2", dead)
	}
	if !l.stale(b2) || l.alive(b2) {
		t.Fatal("b2 dead but not stale")
	}
	// An unknown node named by an entry gets a timeout to show up.
	c := holder{"c", newBoot(t0)}
	l.heard(c, back.Add(4*time.Second), true)
	if !l.alive(c) || l.stale(c) {
		t.Fatal("expected node not alive meanwhile")
	}
	if dead := l.check(back.Add(8 * time.Second)); len(dead) != 1 || dead[0] != c {
		t.Fatalf("dead %v, want c", dead)
	}
	if !l.stale(holder{"a", "0"}) || l.stale(self) {
		t.Fatal("own boots: only the current one is live")
	}
	if l.left(b2) || l.left(c) {
		t.Fatal("a dead node left twice")
	}
	d := holder{"d", newBoot(t0)}
	l.heard(d, back.Add(8*time.Second), false)
	if !l.left(d) || l.alive(d) || !l.stale(d) {
		t.Fatal("a node that said bye is still alive")
	}
}
