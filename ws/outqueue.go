package ws

import (
	"sync"

	"github.com/sigbridge/sigbridge/internal/oneslot"
)

// outQueue is a connection's queue of outgoing messages. It holds at most
// max messages and takes memory only while it holds some: an idle
// connection keeps no buffer (a channel of send_queue slots would cost
// every connection 6 KiB for its whole life) and no writer goroutine
// (another 4-8 KiB of stack): the first push to an idle queue asks for a
// writer (push returns start; writer.go finds one), which drains the queue
// with next (or next and settle) until it is empty. Any goroutine may
// push; only the writer calls next and settle.
type outQueue struct {
	mu   sync.Mutex
	msgs [][]byte
	max  int
	busy bool // a writer runs (or was asked to start)
	// corked counts open batches (gateway.Batcher): while it is above 0 a
	// push to an idle queue does not ask for a writer; held records that
	// one is owed, and the last uncork asks for it.
	corked int32
	held   bool
	// one holds a queue of one message, the common case (a message to an
	// idle connection), without an array of its own per message; the
	// writer's frame encoder writes to it.
	one oneslot.Slot[[]byte]
}

func newOutQueue(max int) *outQueue {
	return &outQueue{max: max}
}

// push queues b; ok is false if the queue is full. start is true when no
// writer runs: the caller must start one.
func (q *outQueue) push(b []byte) (ok, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) >= q.max {
		return false, false
	}
	q.msgs = q.one.Use(q.msgs)
	q.msgs = append(q.msgs, b)
	start = !q.busy
	q.busy = true
	if start && q.corked > 0 {
		q.held, start = true, false
	}
	return true, start
}

// cork opens a batch: pushes to an idle queue wait for uncork.
func (q *outQueue) cork() {
	q.mu.Lock()
	q.corked++
	q.mu.Unlock()
}

// uncork closes a batch; start is true when the caller must find the
// queue a writer (a push waited for the batch to end).
func (q *outQueue) uncork() (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.corked > 0 {
		q.corked--
	}
	if q.corked == 0 && q.held {
		q.held, start = false, true
	}
	return start
}

// wake marks a writer as running and reports whether the caller must
// start it (false: one runs already and will see what changed).
func (q *outQueue) wake() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.busy {
		return false
	}
	q.busy = true
	return true
}

// next is the writer's: it reports closing when closing() is true (the
// queue then stays busy: no writer starts again), else returns everything
// queued, oldest first, and empties the queue (its memory goes with the
// returned slice). An empty result means the writer must end: the queue is
// idle again. closing is checked under the queue's lock, so a connection
// that starts closing either finds a writer that will see it or starts one.
func (q *outQueue) next(closing func() bool) (msgs [][]byte, isClosing bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.one.Free()
	if closing() {
		return nil, true
	}
	msgs, q.msgs = q.msgs, nil
	q.one.Took(msgs)
	if len(msgs) == 0 {
		q.busy = false
	}
	return msgs, false
}

// settle is the writer's after a write: true when more was queued
// meanwhile or the connection is closing (the caller hands the queue on),
// else the queue is idle again.
func (q *outQueue) settle(closing func() bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.one.Free() // the batch is written
	if closing() || len(q.msgs) > 0 {
		return true
	}
	q.busy = false
	return false
}

// take returns everything queued and empties the queue (the closing
// writer's flush).
func (q *outQueue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.one.Free()
	msgs := q.msgs
	q.msgs = nil
	q.one.Took(msgs)
	return msgs
}

// len returns the number of queued messages.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}
