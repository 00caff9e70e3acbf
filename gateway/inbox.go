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

// close makes every later push fail and wakes blocked posters.
func (b *inbox) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.q = nil
	b.wakeLocked()
}

func (b *inbox) wakeLocked() {
	if b.notFull != nil {
		close(b.notFull)
		b.notFull = nil
	}
}
