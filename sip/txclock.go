package sip

import (
	"container/heap"
	"sync"
	"time"
)

// txClock runs the timers of our server transactions (servertx.go) on one
// goroutine: a min-heap of deadlines and one runtime timer for the
// earliest. A time.AfterFunc per transaction timer, as sipgo has, starts
// a goroutine each time it fires (Timer L and Timer J fire once for every
// call); here a timer is an entry in the heap, and the goroutine that
// fires them lives as long as the adapter (it starts with the first
// entry, stop ends it).
//
// An entry is lazily cancelled: a transaction keeps the sequence number of
// its one pending timer (srvTx.clockSeq) and ignores entries with another.
type txClock struct {
	mu      sync.Mutex
	h       clockHeap
	wake    chan struct{} // cap 1: an earlier deadline, or stop
	stopped bool
	started bool
	quit    chan struct{}
	ended   chan struct{}
	onPanic func(any) // a timer's work panicked (recovered; nil: ignored)
}

type clockEntry struct {
	at  int64 // unix nanos
	tx  *srvTx
	seq uint32
}

type clockHeap []clockEntry

func (h clockHeap) Len() int           { return len(h) }
func (h clockHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h clockHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *clockHeap) Push(x any)        { *h = append(*h, x.(clockEntry)) }
func (h *clockHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = clockEntry{}
	*h = old[:len(old)-1]
	return e
}

func newTxClock() *txClock {
	return &txClock{wake: make(chan struct{}, 1), quit: make(chan struct{}), ended: make(chan struct{})}
}

// at schedules tx.fire(seq) at t. After stop it does nothing.
func (c *txClock) at(t time.Time, tx *srvTx, seq uint32) {
	n := t.UnixNano()
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	if !c.started {
		c.started = true
		go c.run()
	}
	earliest := len(c.h) == 0 || n < c.h[0].at
	heap.Push(&c.h, clockEntry{at: n, tx: tx, seq: seq})
	c.mu.Unlock()
	if earliest {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// due pops the entries due at now into batch and returns the next deadline
// (0: none).
func (c *txClock) due(now int64, batch []clockEntry) ([]clockEntry, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.h) > 0 && c.h[0].at <= now {
		batch = append(batch, heap.Pop(&c.h).(clockEntry))
	}
	if len(c.h) == 0 {
		return batch, 0
	}
	return batch, c.h[0].at
}

func (c *txClock) run() {
	defer close(c.ended)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var batch []clockEntry
	for {
		now := time.Now()
		var next int64
		batch, next = c.due(now.UnixNano(), batch[:0])
		for i := range batch {
			c.fire(batch[i], now)
			batch[i] = clockEntry{}
		}
		if next != 0 {
			t.Reset(time.Duration(next - time.Now().UnixNano()))
		} else {
			t.Stop()
		}
		select {
		case <-t.C:
		case <-c.wake:
		case <-c.quit:
			return
		}
	}
}

// fire runs one due timer; a panic in it (a transaction's OnTerminate
// callback, say) is recovered: it must neither end the process nor stop
// the other transactions' timers.
func (c *txClock) fire(e clockEntry, now time.Time) {
	defer func() {
		if r := recover(); r != nil && c.onPanic != nil {
			c.onPanic(r)
		}
	}()
	e.tx.fire(e.seq, now)
}

// stop ends the clock's goroutine; pending timers never fire.
func (c *txClock) stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	started := c.started
	c.h = nil
	c.mu.Unlock()
	close(c.quit)
	if started {
		<-c.ended
	}
}
