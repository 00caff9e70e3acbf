package gateway

import (
	"sync"

	"github.com/sigbridge/sigbridge/internal/oneslot"
)

// inbox is a call's queue of events. It takes memory only while it holds
// events (a channel of inbox_size slots would cost every call 8 KiB for its
// whole life) and runs the call's events one at a time without a goroutine
// of its own while the call is idle. Whoever pushes to an inbox that no
// goroutine handles claims it (push's claim): an inline poster
// (Call.PostInline: a connection's reader, a timer) handles the events
// itself, on its own goroutine; any other poster starts one (Call.serve).
// The claimant takes the queued events (take) until the inbox is empty or
// it hands the inbox on (release); the call's state belongs to whoever
// holds the claim. A goroutine may wait for the next event without
// holding the claim (wait; a call in setup, whose events come in quick
// succession from posters that cannot handle them inline): a push then
// wakes it instead of starting another, but an inline poster still
// handles its event itself. At most max events wait; a poster beyond that
// blocks until the call takes them or ends.
type inbox struct {
	mu      sync.Mutex
	q       []envelope
	max     int
	running bool          // a claimant handles the call's events
	parked  bool          // a goroutine waits in wait
	closed  bool          // the call ended: pushes fail
	notFull chan struct{} // closed when a full inbox is emptied or closed (made on demand)
	wake    chan struct{} // signalled by push, poke and close while wait waits (made on demand)
	// one holds a queue of one event, the common case (a message or a
	// timer into an idle call), without an array of its own per event.
	one oneslot.Slot[envelope]
}

// claim says what a push asks of its caller.
type claim int

const (
	claimNone   claim = iota // a claimant (or a waiting goroutine) will handle the event
	claimInline              // the caller holds the inbox: it handles the events itself
	claimServe               // the caller holds the inbox for a new goroutine (Call.serve)
)

// push queues env. inline says the caller can handle the call's events
// itself. ErrCallEnded once the call is over.
func (b *inbox) push(env envelope, inline bool) (claim, error) {
	return b.pushAll([]envelope{env}, inline)
}

// pushAll queues envs together: a claimant takes them in one batch. They
// wait for room together (an empty inbox takes them even beyond max).
func (b *inbox) pushAll(envs []envelope, inline bool) (claim, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return claimNone, ErrCallEnded
		}
		if len(b.q)+len(envs) <= b.max || len(b.q) == 0 {
			if len(envs) == 1 {
				b.q = b.one.Use(b.q)
			}
			b.q = append(b.q, envs...)
			c := b.claimLocked(inline)
			b.mu.Unlock()
			return c, nil
		}
		if b.notFull == nil {
			b.notFull = make(chan struct{})
		}
		wait := b.notFull
		b.mu.Unlock()
		<-wait
	}
}

func (b *inbox) claimLocked(inline bool) claim {
	switch {
	case b.running:
		return claimNone
	case inline:
		b.running = true
		return claimInline
	case b.parked:
		b.signalLocked()
		return claimNone
	}
	b.running = true
	return claimServe
}

// take is the claimant's: it returns the queued events, oldest first, and
// empties the inbox. An empty result means the inbox is idle again: the
// claim is given up.
func (b *inbox) take() []envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.one.Free()
	q := b.q
	b.q = nil
	b.one.Took(q)
	if len(q) == 0 {
		b.running = false
	}
	b.wakeLocked()
	return q
}

// release is the claimant's: it gives up the claim and reports true when
// nothing is queued; false means events were queued meanwhile and the
// caller still holds the inbox (an inline claimant hands it to a
// goroutine instead of handling them: a reader is never held up by
// another leg's stream of events).
func (b *inbox) release() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.q) > 0 && !b.closed {
		return false
	}
	b.running = false
	b.one.Free()
	return true
}

// wait is for a goroutine that holds no claim: it waits until it can claim
// the inbox with events queued (true), or until stay reports false or the
// call ends (false). stay is called with the inbox locked; whoever makes
// it false calls poke afterwards.
func (b *inbox) wait(stay func() bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed {
		if !b.running && len(b.q) > 0 {
			b.running, b.parked = true, false
			return true
		}
		if !stay() {
			break
		}
		b.parked = true
		if b.wake == nil {
			b.wake = make(chan struct{}, 1)
		}
		w := b.wake
		b.mu.Unlock()
		<-w
		b.mu.Lock()
	}
	b.parked = false
	return false
}

// poke wakes a goroutine in wait, to check its stay condition again.
func (b *inbox) poke() {
	b.mu.Lock()
	b.signalLocked()
	b.mu.Unlock()
}

// close makes every later push fail and wakes blocked posters.
func (b *inbox) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.q = nil
	b.wakeLocked()
	b.signalLocked()
}

// signalLocked wakes wait, if it waits.
func (b *inbox) signalLocked() {
	if b.wake != nil {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

func (b *inbox) wakeLocked() {
	if b.notFull != nil {
		close(b.notFull)
		b.notFull = nil
	}
}
