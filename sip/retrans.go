package sip

import (
	"sync"
	"sync/atomic"
	"time"
)

// The INVITEs sipgo took, and those shed: while the UDP receive queue is
// late, the reader answers new INVITEs 503 itself (statelessShed), but a
// retransmission of an INVITE sipgo already has a server transaction for
// must reach that transaction (which repeats its last response, RFC 3261 §17.2.1): a 503
// for it would end at the caller a call the gateway admitted and answers.
// Under overload that is when retransmissions come (the caller's Timer A
// fires while our responses wait), so the reader remembers the Call-ID of
// every initial INVITE it passes to sipgo and tells retransmissions apart
// by it (remembering in the reader, not in the INVITE handler, which runs
// later: a retransmission queued right behind its INVITE must find it).
// Likewise a retransmission of an INVITE the reader shed must get its 503
// again, never reach sipgo as a new call (see inviteMemo).

// Bounds of the memo of initial INVITEs.
const (
	inviteMemoSpan = 16 * time.Second // one generation; an entry lives 16-32 s (Timer B is 32 s)
	inviteMemoMax  = 1 << 17          // Call-IDs per generation (about 130 k: 8,000 INVITEs/s)
)

// inviteMemo remembers, for 16-32 s in two generations, the Call-ID of
// every initial INVITE the UDP reader saw and what it did with it: passed
// to sipgo (0), or answered with a stateless 503 (the 503's To tag number).
// A retransmission gets the same fate: sipgo's transaction repeats its
// response, and a shed INVITE's retransmission gets the same 503 again with
// the same To tag (RFC 3261 §8.2.7: a stateless UAS answers the same
// request the same way), even once the queue is on time again. Before,
// the shed INVITEs were not remembered: when the caller had retransmitted
// before our 503 reached it (the queue was late by more than T1) and
// shedding had stopped by the time the reader got to the retransmission,
// sipgo took it as a new call, the callee answered, and the caller, which
// had ended the call on the 503, never ACKed our 200 (1,211 of 20,485
// answered calls at 3,000/s for 20 s; docs/PERFORMANCE.md).
//
// It is bounded: beyond inviteMemoMax in one generation new Call-IDs are
// not remembered (their retransmissions are then treated as new INVITEs).
// Safe for concurrent use.
type inviteMemo struct {
	mu        sync.Mutex
	cur, prev map[string]uint64
	since     time.Time // when cur started
}

// decide returns the fate of an initial INVITE with callID read at now, in
// one step so that two readers holding an INVITE and its retransmission
// agree: the To tag number of its 503 (0: sipgo takes it), and whether the
// Call-ID was seen before. A Call-ID seen before keeps its fate; a new one
// is passed, or shed with the next number of tags when shedding.
func (m *inviteMemo) decide(callID []byte, shedding bool, now time.Time, tags *atomic.Uint64) (shedTag uint64, seen bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.lookup(callID); ok {
		return v, true
	}
	if shedding {
		shedTag = tags.Add(1)
	}
	m.add(string(callID), shedTag, now)
	return shedTag, false
}

// add remembers callID's fate (0: passed to sipgo); m.mu is held.
func (m *inviteMemo) add(callID string, shedTag uint64, now time.Time) {
	if m.cur == nil || now.Sub(m.since) >= inviteMemoSpan {
		m.prev, m.cur, m.since = m.cur, make(map[string]uint64), now
	}
	if len(m.cur) < inviteMemoMax {
		m.cur[callID] = shedTag
	}
}

// lookup returns callID's remembered fate (it does not allocate); m.mu is
// held.
func (m *inviteMemo) lookup(callID []byte) (uint64, bool) {
	if v, ok := m.cur[string(callID)]; ok {
		return v, true
	}
	v, ok := m.prev[string(callID)]
	return v, ok
}
