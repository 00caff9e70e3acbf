package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// testLeg records what the bridge delivers to it.
type testLeg struct {
	kind string
	caps Caps
	fail bool
	ch   chan Event
	mu   sync.Mutex
}

func newTestLeg(kind string, caps Caps) *testLeg {
	return &testLeg{kind: kind, caps: caps, ch: make(chan Event, 512)}
}

func (l *testLeg) Kind() string { return l.kind }
func (l *testLeg) Caps() Caps   { return l.caps }

func (l *testLeg) Deliver(ev Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errors.New("leg gone")
	}
	l.ch <- ev
	return nil
}

func (l *testLeg) setFail() {
	l.mu.Lock()
	l.fail = true
	l.mu.Unlock()
}

// next waits for the next delivered event.
func (l *testLeg) next(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-l.ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("%s leg: no event delivered", l.kind)
		return nil
	}
}

// none asserts nothing is delivered within d.
func (l *testLeg) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-l.ch:
		t.Fatalf("%s leg: unexpected %T %+v", l.kind, ev, ev)
	case <-time.After(d):
	}
}

func nextAs[T Event](t *testing.T, l *testLeg) T {
	t.Helper()
	ev := l.next(t)
	v, ok := ev.(T)
	if !ok {
		var zero T
		t.Fatalf("%s leg: got %T %+v, want %T", l.kind, ev, ev, zero)
	}
	return v
}

// fixedDialer hands out one callee leg.
func fixedDialer(leg Leg) Dialer {
	return DialerFunc(func(_ context.Context, _ DialRequest) (Leg, error) { return leg, nil })
}
