package sip

import (
	"sync"
	"time"
)

// The INVITEs sipgo took: while the UDP receive queue is late, the reader
// answers new INVITEs 503 itself (statelessShed), but a retransmission of
// an INVITE sipgo already has a server transaction for must reach that
// transaction (which repeats its last response, RFC 3261 §17.2.1): a 503
// for it would end at the caller a call the gateway admitted and answers.
// Under overload that is when retransmissions come (the caller's Timer A
// fires while our responses wait), so the reader remembers the Call-ID of
// every initial INVITE it passes to sipgo and tells retransmissions apart
// by it (remembering in the reader, not in the INVITE handler, which runs
// later: a retransmission queued right behind its INVITE must find it).

// Bounds of the memo of initial INVITEs.
const (
	inviteMemoSpan = 16 * time.Second // one generation; an entry lives 16-32 s (Timer B is 32 s)
	inviteMemoMax  = 1 << 17          // Call-IDs per generation (about 130 k: 8,000 INVITEs/s)
)

// inviteMemo remembers the Call-IDs of the initial INVITEs the UDP reader
// passed to sipgo for 16-32 s, in two generations. It is bounded: beyond
// inviteMemoMax in one generation new Call-IDs are not remembered (their
// retransmissions may then be shed like new INVITEs). Safe for concurrent
// use.
type inviteMemo struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
	since     time.Time // when cur started
}

// add remembers callID (received at now).
func (m *inviteMemo) add(callID string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || now.Sub(m.since) >= inviteMemoSpan {
		m.prev, m.cur, m.since = m.cur, make(map[string]struct{}), now
	}
	if len(m.cur) < inviteMemoMax {
		m.cur[callID] = struct{}{}
	}
}

// has reports whether callID was remembered (it does not allocate).
func (m *inviteMemo) has(callID []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[string(callID)]; ok {
		return true
	}
	_, ok := m.prev[string(callID)]
	return ok
}
