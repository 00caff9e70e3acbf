package ws

import "sync"

// outQueue is a connection's queue of outgoing messages. It holds at most
// max messages and takes memory only while it holds some: an idle
// connection keeps no buffer (a channel of send_queue slots would cost
// every connection 6 KiB for its whole life). Any goroutine may push; only
// the writer takes.
type outQueue struct {
	mu    sync.Mutex
	msgs  [][]byte
	max   int
	ready chan struct{} // one token: something was pushed since the last take
}

func newOutQueue(max int) *outQueue {
	return &outQueue{max: max, ready: make(chan struct{}, 1)}
}

// push queues b; false if the queue is full.
func (q *outQueue) push(b []byte) bool {
	q.mu.Lock()
	if len(q.msgs) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued, oldest first, and empties the queue
// (its memory goes with the returned slice).
func (q *outQueue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := q.msgs
	q.msgs = nil
	return msgs
}

// len returns the number of queued messages.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}
