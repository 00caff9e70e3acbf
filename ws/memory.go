package ws

import (
	"runtime/debug"
	"sync"
	"time"
)

// After a burst of connections closes, their memory is free in the Go heap
// but stays with the process: the runtime's background scavenger hands it
// back to the operating system only slowly, so the RSS would stay at the
// peak for minutes (91 MiB after 2,000 idle sockets closed, from 27 MiB).
// memReleaser gives it back at once, a moment after the burst, at most once
// per releaseEvery.
const (
	releaseSettle = 2 * time.Second // let the last connections of the burst finish
	releaseEvery  = 5 * time.Second // a forced collection at most this often
)

type memReleaser struct {
	mu      sync.Mutex
	last    time.Time
	timer   *time.Timer
	release func() // debug.FreeOSMemory
}

func newMemReleaser() *memReleaser { return &memReleaser{release: debug.FreeOSMemory} }

// request schedules one release unless one is already due.
func (r *memReleaser) request() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		return
	}
	wait := max(releaseSettle, releaseEvery-time.Since(r.last))
	r.timer = time.AfterFunc(wait, func() {
		r.release()
		r.mu.Lock()
		r.last, r.timer = time.Now(), nil
		r.mu.Unlock()
	})
}
