package sip

import (
	"bytes"
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
	inviteMemoSpan = 16 * time.Second // an entry lives 16-20 s, a shed one 16-32 s (Timer B is 32 s)
	inviteMemoMax  = 1 << 17          // Call-IDs per span (about 130 k: 8,000 INVITEs/s)
)

// inviteMemo remembers, for 16-20 s (a shed one 16-32 s), the Call-ID of
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
// It is bounded: beyond inviteMemoMax in one span new Call-IDs are
// not remembered (their retransmissions are then treated as new INVITEs).
// Safe for concurrent use.
//
// A Call-ID passed to sipgo is held as its memoHash in a genSet (memo.go):
// 11-16 bytes, nothing the garbage collector scans. A shed one (only while
// shedding) is held with its fate in a genMemo of the same span beside it.
// Two Call-IDs whose hashes collide (below 2^-45 per INVITE) are taken for
// one: a new INVITE is then passed to sipgo though shedding (sipgo makes
// it a call as any other), or, when the other one was shed with the same
// CSeq number, refused with its 503 (the caller may retry after
// Retry-After). It is never answered for another call: this memo answers
// nothing but 503s.
type inviteMemo struct {
	passed genSet                      // Call-IDs passed to sipgo; passed.mu guards shed too
	shed   genMemo[uint64, inviteFate] // Call-IDs shed, with their 503's tag
}

// inviteFate is what the reader did with an initial INVITE: passed it to
// sipgo (shedTag 0) or answered it 503 with To tag shedTag; cseq tells a
// retransmission of a shed INVITE (same CSeq) from a new request reusing
// its Call-ID (a caller retrying after Retry-After with CSeq + 1), which is
// decided anew.
type inviteFate struct {
	shedTag uint64
	cseq    uint32
}

// decide returns the fate of an initial INVITE with callID and CSeq number
// cseq read at now, in one step so that two readers holding an INVITE and
// its retransmission agree: the To tag number of its 503 (0: sipgo takes
// it), and whether it was seen before. A Call-ID passed to sipgo before is
// passed again (its transaction, or the dialog's, answers); a shed one
// gets the same 503 if the CSeq is the same; anything else is passed, or
// shed with the next number of tags when shedding.
func (m *inviteMemo) decide(callID []byte, cseq uint32, shedding bool, now time.Time, tags *atomic.Uint64) (shedTag uint64, seen bool) {
	key := memoHashBytes(callID)
	m.passed.mu.Lock()
	defer m.passed.mu.Unlock()
	m.ready()
	if v, ok := m.lookupLocked(key, now); ok && (v.shedTag == 0 || v.cseq == cseq) {
		return v.shedTag, true
	}
	if shedding {
		shedTag = tags.Add(1)
	}
	m.putLocked(key, inviteFate{shedTag: shedTag, cseq: cseq}, now)
	return shedTag, false
}

// put remembers callID's fate.
func (m *inviteMemo) put(callID string, f inviteFate, now time.Time) {
	m.passed.mu.Lock()
	defer m.passed.mu.Unlock()
	m.ready()
	m.putLocked(memoHash(callID), f, now)
}

// get returns the fate remembered for callID at now.
func (m *inviteMemo) get(callID string, now time.Time) (inviteFate, bool) {
	m.passed.mu.Lock()
	defer m.passed.mu.Unlock()
	return m.lookupLocked(memoHash(callID), now)
}

// putLocked remembers the fate of the Call-ID with hash key; m.passed.mu
// is held.
func (m *inviteMemo) putLocked(key uint64, f inviteFate, now time.Time) {
	if f.shedTag == 0 {
		m.passed.putLocked(key, false, now)
		return
	}
	m.shed.putLocked(key, f, now)
}

// lookupLocked returns the fate of the Call-ID with hash key: passed if it
// was passed (whatever was shed before), else its 503's; m.passed.mu is
// held.
func (m *inviteMemo) lookupLocked(key uint64, now time.Time) (inviteFate, bool) {
	if _, ok := m.passed.lookupLocked(key, now); ok {
		return inviteFate{}, true
	}
	return m.shed.lookupLocked(key, now)
}

// len is the number of Call-IDs held, expired ones included.
func (m *inviteMemo) len() int {
	m.passed.mu.Lock()
	defer m.passed.mu.Unlock()
	return m.passed.lenLocked() + len(m.shed.cur) + len(m.shed.prev)
}

// ready gives the zero value its span and bound; m.passed.mu is held.
func (m *inviteMemo) ready() {
	if m.passed.span == 0 {
		m.passed.span, m.passed.max = inviteMemoSpan, inviteMemoMax
		m.shed.span, m.shed.max = inviteMemoSpan, inviteMemoMax
	}
}

// cseqNumber is the sequence number of a "CSeq: 1 INVITE" header line (0
// when it has none).
func cseqNumber(line []byte) uint32 {
	_, v, _ := bytes.Cut(line, []byte(":"))
	v = bytes.TrimLeft(v, " \t")
	var n uint32
	for _, c := range v {
		if c < '0' || c > '9' || n > (1<<31)/10 {
			break
		}
		n = n*10 + uint32(c-'0')
	}
	return n
}
