package sip

import (
	"sync"
	"time"
)

// genMemo remembers values by key for one to two spans, in two
// generations: a key put at t is found until t+span at least and t+2*span
// at most, with no timer and no per-entry time. Beyond max keys in one
// generation new keys are not remembered. Safe for concurrent use. It is
// the one memo of the package: the UDP reader's initial INVITEs
// (inviteMemo, retrans.go), inbound INVITEs for their retransmissions
// (timerl.go), ended dialogs (dialogs.go) and our given-up INVITEs
// (lateTable, late2xx.go).
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
	m.putLocked(key, v, now)
}

// putLocked is put with m.mu held.
func (m *genMemo[V]) putLocked(key string, v V, now time.Time) {
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
	return m.lookupLocked([]byte(key), now)
}

// lookupLocked is get with m.mu held, for a key in bytes (it does not
// allocate).
func (m *genMemo[V]) lookupLocked(key []byte, now time.Time) (v V, ok bool) {
	switch age := now.Sub(m.since); {
	case age >= 2*m.span: // nothing put for a while: both generations are old
		return v, false
	case age >= m.span: // cur is as old as prev would be after a put
		v, ok = m.cur[string(key)]
		return v, ok
	}
	if v, ok = m.cur[string(key)]; ok {
		return v, true
	}
	v, ok = m.prev[string(key)]
	return v, ok
}

// delete forgets key.
func (m *genMemo[V]) delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cur, key)
	delete(m.prev, key)
}

// len is the number of keys held, expired ones included.
func (m *genMemo[V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.prev)
}
