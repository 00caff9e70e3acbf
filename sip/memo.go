package sip

import (
	"hash/maphash"
	"sync"
	"time"
)

// genMemo remembers values by key for one to two spans, in two
// generations: a key put at t is found until t+span at least and t+2*span
// at most, with no timer and no per-entry time. Beyond max keys in one
// generation new keys are not remembered. Safe for concurrent use. It is
// the one memo of the package: the UDP reader's initial INVITEs
// (inviteMemo, retrans.go), inbound INVITEs for their retransmissions
// (acceptedMemo, timerl.go), ended dialogs (dialogs.go) and our given-up
// INVITEs (lateTable, late2xx.go).
//
// The three memos that hold an entry for every call (the first three) are
// keyed by memoHash and hold small values without pointers: their maps
// then have no pointers, the garbage collector does not scan them, and an
// entry costs the map's slot (8 bytes of key, the value, a control byte),
// not a key string, a map slot pointing at it and a record (at 2,000
// calls/s for 64 s their keys and records had been 30-40 MiB of live
// heap, all of it scanned by every GC cycle; docs/PERFORMANCE.md).
type genMemo[K comparable, V any] struct {
	span time.Duration
	max  int

	mu        sync.Mutex
	cur, prev map[K]V
	since     time.Time // when cur started
}

// put remembers v for key.
func (m *genMemo[K, V]) put(key K, v V, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(key, v, now)
}

// putLocked is put with m.mu held. A new generation is made as large as
// the one it follows, so that it does not grow (and rehash) while it fills
// at a steady rate.
func (m *genMemo[K, V]) putLocked(key K, v V, now time.Time) {
	if m.cur == nil || now.Sub(m.since) >= m.span {
		m.prev, m.cur, m.since = m.cur, make(map[K]V, len(m.cur)), now
	}
	if len(m.cur) < m.max {
		m.cur[key] = v
	}
}

// get returns the value remembered for key at now.
func (m *genMemo[K, V]) get(key K, now time.Time) (v V, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookupLocked(key, now)
}

// lookupLocked is get with m.mu held.
func (m *genMemo[K, V]) lookupLocked(key K, now time.Time) (v V, ok bool) {
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

// update replaces the value of key where it is held, in whichever
// generation, without making it younger; a key not held stays unknown.
func (m *genMemo[K, V]) update(key K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[key]; ok {
		m.cur[key] = v
		return
	}
	if _, ok := m.prev[key]; ok {
		m.prev[key] = v
	}
}

// delete forgets key.
func (m *genMemo[K, V]) delete(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cur, key)
	delete(m.prev, key)
}

// len is the number of keys held, expired ones included.
func (m *genMemo[K, V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.prev)
}

// memoSeed seeds memoHash: random per process, so that a peer cannot
// choose keys that collide (it never sees a hash).
var memoSeed = maphash.MakeSeed()

// memoHash is the key of an entry in the per-call memos: 64 bits of a
// seeded hash of the full key. Two keys collide with probability 2^-64 per
// pair: with the memos full (2^17 keys per generation, two generations) a
// new key meets a held one with probability below 2^-46 (at 2,000 new
// keys/s, once in about 1,000 years). What a collision may cost is written
// at each memo (inviteMemo, acceptedMemo, dialogTable.ended): at most the
// one call's setup, never another call's answer (the one answer a memo
// holds, our 2xx to a retransmitted INVITE, is checked against the
// request, acceptedMemo.again).
func memoHash(key string) uint64 { return maphash.String(memoSeed, key) }

// memoHashBytes is memoHash of a key in bytes (the same hash as for the
// string; it does not allocate).
func memoHashBytes(key []byte) uint64 { return maphash.Bytes(memoSeed, key) }
