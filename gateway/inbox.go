package gateway

import "sync"

// inbox is a call's queue of events. It takes memory only while it holds
// events (a channel of inbox_size slots would cost every call 8 KiB for its
// whole life) and tells the poster when the call has no goroutine running:
// the first push to an idle inbox starts one (Call.drain), which takes
// batches until the inbox is empty and then ends. At most max events wait;
// a poster beyond that blocks until the call takes them or ends.
type inbox struct {
	mu      sync.Mutex
	q       []envelope
	max     int
	busy    bool          // a goroutine handles the call's events
	closed  bool          // the call ended: pushes fail
	notFull chan struct{} // closed when a full inbox is emptied or closed (made on demand)
	wake    chan struct{} // signalled by push and close while takeWait waits (made on demand)
}

// push queues env. start is true when no goroutine handles the call: the
// caller must start one. ErrCallEnded once the call is over.
func (b *inbox) push(env envelope) (start bool, err error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return false, ErrCallEnded
		}
		if len(b.q) < b.max {
			b.q = append(b.q, env)
			start = !b.busy
			b.busy = true
			b.signalLocked()
			b.mu.Unlock()
			return start, nil
		}
		if b.notFull == nil {
			b.notFull = make(chan struct{})
		}
		wait := b.notFull
		b.mu.Unlock()
		<-wait
	}
}

// take returns the queued events, oldest first, and empties the inbox. An
// empty result means the inbox is idle again: the caller's goroutine ends.
func (b *inbox) take() []envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.q
	b.q = nil
	if len(q) == 0 {
		b.busy = false
	}
	b.wakeLocked()
	return q
}

// takeWait is take for a call in setup: with nothing queued it waits for
// the next push (or the end of the call) instead of going idle. A call in
// setup gets its events in a quick succession (the caller's trickled
// candidates, ringing, the answer), and a goroutine started for each of
// them would grow a new stack every time; the calls in setup are bounded
// (max_calls_in_setup), held calls still cost no goroutine.
func (b *inbox) takeWait() []envelope {
	b.mu.Lock()
	for len(b.q) == 0 && !b.closed {
		if b.wake == nil {
			b.wake = make(chan struct{}, 1)
		}
		w := b.wake
		b.mu.Unlock()
		<-w
		b.mu.Lock()
	}
	b.mu.Unlock()
	return b.take()
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

// signalLocked wakes takeWait, if it waits.
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
