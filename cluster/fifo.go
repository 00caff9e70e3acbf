package cluster

import "sync"

// fifo is an unbounded queue with one consumer: producers never block
// (releases are queued under other packages' locks). What it holds is
// bounded by its producers (one entry per claim, release or change).
type fifo[T any] struct {
	mu    sync.Mutex
	items []T
	sig   chan struct{}
}

func newFIFO[T any]() *fifo[T] { return &fifo[T]{sig: make(chan struct{}, 1)} }

func (q *fifo[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.sig <- struct{}{}:
	default:
	}
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
