package main

import "time"

// rateWindow is how many of the last adjustments (collections, about one
// per gc_min_interval under load) the allocation rate of the heap floor is
// measured over: one cycle's rate varies with what that cycle happened to
// hold, four cycles' much less. After a quiet spell the first busy cycles
// are short (the goal is still low), so the window soon holds only them.
const rateWindow = 4

// allocMark is the runtime's allocation counter at one adjustment.
type allocMark struct {
	allocs uint64
	at     time.Time
}

// allocMarks keeps the last rateWindow allocMarks, oldest first once full.
type allocMarks struct {
	ring [rateWindow]allocMark
	n    int // marks kept, up to rateWindow
	next int // where the next mark goes
}

// add records the counter at now. A counter lower than the last mark's
// (never from the runtime) starts the window again.
func (m *allocMarks) add(allocs uint64, now time.Time) {
	if m.n > 0 && allocs < m.ring[(m.next+rateWindow-1)%rateWindow].allocs {
		m.n = 0
	}
	m.ring[m.next] = allocMark{allocs: allocs, at: now}
	m.next = (m.next + 1) % rateWindow
	m.n = min(m.n+1, rateWindow)
}

// rate is the bytes allocated per interval from the oldest mark kept to
// (allocs, now); false without a mark, without time passed or with a
// counter that went back.
func (m *allocMarks) rate(allocs uint64, now time.Time, interval time.Duration) (float64, bool) {
	if m.n == 0 {
		return 0, false
	}
	old := m.ring[(m.next+rateWindow-m.n)%rateWindow]
	dt := now.Sub(old.at)
	if dt <= 0 || allocs < old.allocs {
		return 0, false
	}
	return float64(allocs-old.allocs) * float64(interval) / float64(dt), true
}
