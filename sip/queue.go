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

// queue is a leg's inbox. push never blocks; the leg's goroutine waits on
// ready and drains with pop.
type queue struct {
	mu     sync.Mutex
	items  []any
	closed bool
	ready  chan struct{}
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(x any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errQueueClosed
	}
	if len(q.items) >= maxQueue {
		return errQueueFull
	}
	q.items = append(q.items, x)
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
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
	return x, true
}

// close refuses further pushes and returns what was left.
func (q *queue) close() []any {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	left := q.items
	q.items = nil
	return left
}
