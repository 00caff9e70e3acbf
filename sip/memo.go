package sip

import (
	"sync"
	"time"
)

// genMemo remembers values by key for one to two spans, in two
// generations: a key put at t is found until t+span at least and t+2*span
// at most, with no timer and no per-entry time. Beyond max keys in one
// generation new keys are not remembered. Safe for concurrent use.
type genMemo[V any] struct {
	span time.Duration
	max  int

	mu        sync.Mutex
	cur, prev map[string]V
	since     time.Time // when cur started
}

// put remembers v for key.
func (m *genMemo[V]) put(key string, v V, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || now.Sub(m.since) >= m.span {
		m.prev, m.cur, m.since = m.cur, make(map[string]V), now
	}
	if len(m.cur) < m.max {
		m.cur[key] = v
	}
}

// get returns the value remembered for key at now.
func (m *genMemo[V]) get(key string, now time.Time) (v V, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch age := now.Sub(m.since); {
	case age >= 2*m.span: // nothing put for a while: both generations are old
		return v, false
	case age >= m.span: // cur is as old as prev would be after a put
		v, ok = m.cur[key]
		return v, ok
	}
	if v, ok = m.cur[key]; ok {
		return v, true
	}
	v, ok = m.prev[key]
	return v, ok
}
