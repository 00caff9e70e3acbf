package sip

import (
	"errors"
	"sync"
)

// errQueueClosed is returned once a leg has ended.
var errQueueClosed = errors.New("sip: leg has ended")

// errQueueFull is returned when a leg's inbox overflows.
var errQueueFull = errors.New("sip: leg inbox full")

// maxQueue bounds a leg's inbox: events from the bridge and in-dialog
// requests from the network.
const maxQueue = 256

// queue is a leg's inbox. push never blocks. While the call is being set up
// the leg's goroutine waits on ready and drains with pop; once the dialog
// is confirmed the goroutine parks the queue when it is empty and ends, and
// the next push starts a new one (wake), so a held call has no goroutine
// (see gateway/inbox.go for the call's side).
type queue struct {
	mu     sync.Mutex
	items  []any
	closed bool
	parked bool  // no goroutine takes items: push starts wake on a new one
	wake   waker // set by park
	ready  chan struct{}
}

// waker runs a parked queue's owner (legCore.serveWoken): an interface
// rather than a func, so that parking needs no method value made per leg.
type waker interface{ serveWoken() }

// init makes a new queue ready for use (a queue is a field of its leg's
// core, not allocated on its own).
func (q *queue) init() { q.ready = make(chan struct{}, 1) }

func (q *queue) push(x any) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errQueueClosed
	}
	if len(q.items) >= maxQueue {
		q.mu.Unlock()
		return errQueueFull
	}
	q.items = append(q.items, x)
	var wake waker
	if q.parked {
		q.parked, wake = false, q.wake
	} else {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
	if wake != nil {
		go wake.serveWoken()
	}
	return nil
}

// pushHere is push for a caller that would wait for x anyway: when the
// queue is parked it returns wake for the caller to run on its own
// goroutine instead of starting a new one.
func (q *queue) pushHere(x any) (wake waker, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, errQueueClosed
	}
	if len(q.items) >= maxQueue {
		return nil, errQueueFull
	}
	q.items = append(q.items, x)
	if q.parked {
		q.parked, wake = false, q.wake
		return wake, nil
	}
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil, nil
}

// pushIfParked queues x only when the queue is parked (no goroutine takes
// items, none are queued) and returns wake for the caller to run; false:
// x was not queued.
func (q *queue) pushIfParked(x any) (wake waker, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !q.parked {
		return nil, false
	}
	q.items = append(q.items, x)
	q.parked, wake = false, q.wake
	return wake, true
}

func (q *queue) pop() (any, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	x := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil // an idle leg keeps no backing array
	}
	return x, true
}

// park lets the calling goroutine end: true when the queue is empty, and
// then the next push runs wake on a new goroutine (or closed: nothing
// more comes). False: there is work, the caller keeps going.
func (q *queue) park(wake waker) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return true
	}
	if len(q.items) > 0 {
		return false
	}
	q.parked, q.wake = true, wake
	return true
}

// close refuses further pushes and returns what was left.
func (q *queue) close() []any {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.parked, q.wake = false, nil
	left := q.items
	q.items = nil
	return left
}
