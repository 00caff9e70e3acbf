package sip

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// genMemo remembers values by key for one to two spans, in two
// generations: a key put at t is found until t+span at least and t+2*span
// at most, with no timer and no per-entry time. Beyond max keys in one
// generation new keys are not remembered. Safe for concurrent use. The
// package's memos are built on it or on genSet, its form for the memos
// that hold an entry for every call: the UDP reader's initial INVITEs
// (inviteMemo, retrans.go: a genSet, and a genMemo for the shed ones),
// inbound INVITEs for their retransmissions (acceptedMemo, timerl.go: a
// genSet), ended dialogs (dialogTable.ended, dialogs.go: a genSet) and our
// given-up INVITEs (lateTable, late2xx.go: a genMemo of records).
//
// The per-call memos are keyed by memoHash and hold a flag, in a genSet:
// no pointers, so the garbage collector does not scan them, and an entry
// costs 11-16 bytes, not a key string, a map slot pointing at it and a
// record (at 2,000 calls/s for 64 s those had been about 37 MB of live,
// scanned heap; docs/PERFORMANCE.md).
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
// pair: with the memos full (2^17 keys a span, at most 1.25 spans held) a
// new key meets a held one with probability below 2^-46 (at 2,000 new
// keys/s, once in about 1,000 years; genSet keeps 63 of the 64 bits, and
// its bit 0 for the flag: below 2^-45, once in about 500 years). What a collision may cost is written
// at each memo (inviteMemo, acceptedMemo, dialogTable.ended): at most the
// one call's setup, never another call's answer (the one answer a memo
// holds, our 2xx to a retransmitted INVITE, is checked against the
// request, acceptedMemo.ackingFor).
func memoHash(key string) uint64 { return maphash.String(memoSeed, key) }

// memoHashBytes is memoHash of a key in bytes (the same hash as for the
// string; it does not allocate).
func memoHashBytes(key []byte) uint64 { return maphash.Bytes(memoSeed, key) }

// genSet is genMemo for the per-call memos: a set of memoHash keys, each
// with one flag, in genParts+1 generations of span/genParts each: a key put
// at t is found until t+span at least and about t+span+span/genParts at
// most, and at most max keys a span are taken (max/genParts a
// generation). A generation is a flat open-addressing table of uint64
// (hashGen): 8 bytes a slot, filled to at most 3/4, sized from the
// generation before it, so a key costs 11-16 bytes where a Go map costs
// 33-37 (a map's slot of 8 bytes of key and an empty or one-byte value is
// 16 bytes, and its table doubles at 7/8), and nothing the garbage
// collector scans. Keys are never deleted (open addressing without
// tombstones); a generation is dropped whole.
//
// Why genParts short generations rather than two of a span each (as
// genMemo has): two generations hold between one and two spans of keys,
// two on average over a turn, and a steady load fills them for two spans
// (64 s for the 32 s memos) with a step each time a generation starts,
// which is sized for a span of keys at once: at 3,000 SIP → browser calls/s
// the memos' turn at 32 s made the live heap 3 MB larger, and the heap
// goal twice that, in the middle of the last 30 s of a 60 s load step.
// With genParts short ones they hold 1 to 1+1/genParts spans (1.25 on
// average less than two, so 37 % less at a steady rate), are full after
// 1+1/genParts spans (40 s), and a turn starts a table a quarter the
// size. A lookup of a key not held probes genParts+1 tables instead of
// two (BenchmarkAcceptedInvite).
//
// Safe for concurrent use; the memos built on it (inviteMemo,
// acceptedMemo) guard their own fields with its mu.
type genSet struct {
	span time.Duration
	max  int

	mu    sync.Mutex
	gens  [genParts + 1]hashGen // a ring; gens[head] takes new keys
	head  int
	since time.Time // when gens[head] started
}

// genParts is how many generations of a genSet make its span.
const genParts = 4

// slice is how long a generation takes keys.
func (s *genSet) slice() time.Duration { return s.span / genParts }

// turns is how many generations would have started since gens[head] by
// now (genParts+1: all of them, nothing held is young enough).
func (s *genSet) turns(now time.Time) int {
	age := now.Sub(s.since)
	if s.since.IsZero() || age >= time.Duration(genParts+1)*s.slice() {
		return genParts + 1
	}
	if age < 0 {
		return 0
	}
	return int(age / s.slice())
}

// cur is the generation that takes new keys.
func (s *genSet) cur() *hashGen { return &s.gens[s.head] }

// put remembers key with flag.
func (s *genSet) put(key uint64, flag bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(key, flag, now)
}

// putLocked is put with s.mu held. The generations the time since the
// last turn has made too old are dropped, and a new one, as large as the
// one it follows (so that it does not grow, and rehash, while it fills at
// a steady rate), takes the key.
func (s *genSet) putLocked(key uint64, flag bool, now time.Time) {
	if k := s.turns(now); k > 0 {
		n := s.cur().n
		for range k {
			s.head = (s.head + 1) % len(s.gens)
			s.gens[s.head] = hashGen{}
		}
		s.gens[s.head] = newHashGen(n)
		s.since = now
	}
	if cur := s.cur(); cur.n < s.max/genParts {
		cur.put(key, flag)
	}
}

// get returns key's flag, and whether key is remembered at now.
func (s *genSet) get(key uint64, now time.Time) (flag, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(key, now)
}

// lookupLocked is get with s.mu held: the generations a put now would
// keep, youngest first.
func (s *genSet) lookupLocked(key uint64, now time.Time) (flag, ok bool) {
	for d := 0; d <= genParts-s.turns(now); d++ {
		if flag, ok = s.gens[(s.head-d+len(s.gens))%len(s.gens)].get(key); ok {
			return flag, true
		}
	}
	return false, false
}

// update sets key's flag where it is held, without making it younger; a key
// not held stays unknown.
func (s *genSet) update(key uint64, flag bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := range len(s.gens) {
		if s.gens[(s.head-d+len(s.gens))%len(s.gens)].set(key, flag) {
			return
		}
	}
}

// len is the number of keys held, expired ones included.
func (s *genSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lenLocked()
}

// lenLocked is len with s.mu held.
func (s *genSet) lenLocked() int {
	n := 0
	for i := range s.gens {
		n += s.gens[i].n
	}
	return n
}

// hashGen is one generation of a genSet: an open-addressing table with
// linear probing. A slot holds a key's upper 63 bits and, in bit 0, its
// flag; 0 is an empty slot (a key whose upper bits are 0 is taken as 2).
type hashGen struct {
	slots []uint64
	n     int
}

// hashGenMin is the fewest slots of a generation.
const hashGenMin = 1024

// newHashGen makes a generation for about as many keys as n, the count of
// the one before: 4/3 of it, so that it fills to 3/4 without growing.
func newHashGen(n int) hashGen {
	return hashGen{slots: make([]uint64, max(hashGenMin, n+n/3+1))}
}

// slotKey is key as a slot holds it, without its flag.
func slotKey(key uint64) uint64 {
	if key &^= 1; key == 0 {
		return 2
	}
	return key
}

// home is key's first slot in a table of n: the upper bits of key times n
// (Lemire's multiply-shift), which needs no power of two.
func home(key uint64, n int) int {
	hi, _ := bits.Mul64(key, uint64(n))
	return int(hi)
}

// find returns the slot of key (without its flag), or the empty slot where
// it goes.
func (g *hashGen) find(k uint64) int {
	n := len(g.slots)
	for i := home(k, n); ; i++ {
		if i == n {
			i = 0
		}
		if s := g.slots[i]; s == 0 || s&^1 == k {
			return i
		}
	}
}

func (g *hashGen) get(key uint64) (flag, ok bool) {
	if g.n == 0 {
		return false, false
	}
	s := g.slots[g.find(slotKey(key))]
	return s&1 == 1, s != 0
}

// set sets the flag of key if held (true).
func (g *hashGen) set(key uint64, flag bool) bool {
	if g.n == 0 {
		return false
	}
	k := slotKey(key)
	i := g.find(k)
	if g.slots[i] == 0 {
		return false
	}
	g.slots[i] = k | flagBit(flag)
	return true
}

// put adds key with flag (or sets its flag), growing the table to twice its
// size when it would be more than 3/4 full.
func (g *hashGen) put(key uint64, flag bool) {
	k := slotKey(key)
	if (g.n+1)*4 > len(g.slots)*3 {
		g.grow()
	}
	i := g.find(k)
	if g.slots[i] == 0 {
		g.n++
	}
	g.slots[i] = k | flagBit(flag)
}

func (g *hashGen) grow() {
	old := g.slots
	g.slots = make([]uint64, max(hashGenMin, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			g.slots[g.find(s&^1)] = s
		}
	}
}

func flagBit(flag bool) uint64 {
	if flag {
		return 1
	}
	return 0
}
