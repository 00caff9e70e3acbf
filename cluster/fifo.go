package cluster

import "sync"

// fifo is a queue with one consumer: producers never block (releases are
// queued under other packages' locks). It holds memory only while items
// wait. Unbounded (newFIFO), what it holds is bounded by its producers
// (one entry per claim, release or change); bounded (newBoundedFIFO), a
// push beyond the bound is refused.
type fifo[T any] struct {
	mu    sync.Mutex
	items []T
	max   int // 0: unbounded
	sig   chan struct{}
}

func newFIFO[T any]() *fifo[T] { return &fifo[T]{sig: make(chan struct{}, 1)} }

// newBoundedFIFO holds at most max items waiting (a call's events: unlike
// a channel of max slots, an idle queue holds nothing).
func newBoundedFIFO[T any](max int) *fifo[T] {
	return &fifo[T]{max: max, sig: make(chan struct{}, 1)}
}

// push queues v; false (v dropped) when a bounded queue is full.
func (q *fifo[T]) push(v T) bool {
	q.mu.Lock()
	if q.max > 0 && len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.sig <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued (nil if nothing).
func (q *fifo[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

// ready is signalled after a push.
func (q *fifo[T]) ready() <-chan struct{} { return q.sig }
