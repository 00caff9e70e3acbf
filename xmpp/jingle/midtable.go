package jingle

import (
	"strconv"
	"sync"
)

// MidTable is the per-session, bidirectional table between Jingle content
// names and SDP mids (protocols.md §2.5 c). It also remembers the m-line
// order, rejected (port 0) slots, the original content creator and raw
// extmap direction suffixes, so that conversions in both directions agree.
//
// Keep one MidTable per Jingle session and pass it to every SDPToJingle and
// JingleToSDP call of that session. It is safe for concurrent use. The zero
// value is ready to use.
type MidTable struct {
	mu     sync.Mutex
	slots  []Slot
	extDir map[extKey]extDir
}

// Slot is one m-line position of a session.
type Slot struct {
	Name     string // Jingle content name
	Mid      string // SDP a=mid
	Media    string // audio, video, application
	Proto    string // the m-line proto last seen or written
	Format   string // first format, used for a port-0 slot
	Creator  string // creator of the content, as first seen
	Rejected bool   // port 0 / senders='rejected' / not accepted
}

type extKey struct {
	name string
	id   uint16
}

type extDir struct {
	raw     string // "sendonly", "recvonly", ...
	senders Senders
}

// NewMidTable returns an empty table.
func NewMidTable() *MidTable { return &MidTable{} }

// Slots returns a copy of the slots in m-line order.
func (t *MidTable) Slots() []Slot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Slot(nil), t.slots...)
}

// MidForName returns the mid of a content name.
func (t *MidTable) MidForName(name string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := t.byName(name); i >= 0 {
		return t.slots[i].Mid, true
	}
	return "", false
}

// NameForMid returns the content name of a mid.
func (t *MidTable) NameForMid(mid string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := t.byMid(mid); i >= 0 {
		return t.slots[i].Name, true
	}
	return "", false
}

// IndexForName returns the m-line index (sdpMLineIndex) of a content.
func (t *MidTable) IndexForName(name string) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.byName(name)
	return i, i >= 0
}

// NameAt returns the content name at an m-line index (the fallback when a
// trickled candidate has no sdpMid).
func (t *MidTable) NameAt(index int) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if index < 0 || index >= len(t.slots) {
		return "", false
	}
	return t.slots[index].Name, true
}

// ContentForCandidate maps a trickled candidate's sdpMid (or, when mid is
// empty or unknown, its sdpMLineIndex; pass -1 if absent) to a content name.
func (t *MidTable) ContentForCandidate(mid string, index int) (string, bool) {
	if mid != "" {
		if name, ok := t.NameForMid(mid); ok {
			return name, true
		}
	}
	return t.NameAt(index)
}

func (t *MidTable) byName(name string) int {
	for i := range t.slots {
		if t.slots[i].Name == name {
			return i
		}
	}
	return -1
}

func (t *MidTable) byMid(mid string) int {
	for i := range t.slots {
		if t.slots[i].Mid == mid {
			return i
		}
	}
	return -1
}

// fromSDP records m-line index i with its mid (maybe empty) and returns the
// slot index. An unknown mid takes over slot i when that slot is rejected
// (RFC 3264 slot reuse) or appends a new slot.
func (t *MidTable) fromSDP(i int, s Slot) int {
	if s.Mid == "" {
		s.Mid = strconv.Itoa(i)
	}
	if k := t.byMid(s.Mid); k >= 0 {
		t.update(k, s)
		return k
	}
	s.Name = t.freshName(s.Mid)
	if i < len(t.slots) && t.slots[i].Rejected {
		t.slots[i] = s
		return i
	}
	t.slots = append(t.slots, s)
	return len(t.slots) - 1
}

// fromJingle records a content and returns its slot index.
func (t *MidTable) fromJingle(s Slot) int {
	if k := t.byName(s.Name); k >= 0 {
		t.update(k, s)
		return k
	}
	s.Mid = t.freshMid(s.Name)
	t.slots = append(t.slots, s)
	return len(t.slots) - 1
}

// update refreshes a known slot; name, mid and creator never change.
func (t *MidTable) update(k int, s Slot) {
	old := &t.slots[k]
	old.Media, old.Proto, old.Rejected = s.Media, orStr(s.Proto, old.Proto), s.Rejected
	if s.Format != "" {
		old.Format = s.Format
	}
	if old.Creator == "" {
		old.Creator = s.Creator
	}
}

// freshName returns mid itself unless another slot already uses it as a name.
func (t *MidTable) freshName(mid string) string {
	name := mid
	for n := 1; t.byName(name) >= 0; n++ {
		name = mid + "-" + strconv.Itoa(n)
	}
	return name
}

// freshMid keeps a name that is a token of at most 16 bytes (the one-byte
// sdes:mid limit) and unused as a mid; otherwise it generates "0", "1", ...
func (t *MidTable) freshMid(name string) string {
	if isMidToken(name) && t.byMid(name) < 0 {
		return name
	}
	for n := len(t.slots); ; n++ {
		if mid := strconv.Itoa(n); t.byMid(mid) < 0 {
			return mid
		}
	}
}

func (t *MidTable) setExtDir(name string, id uint16, raw string, s Senders) {
	if t.extDir == nil {
		t.extDir = make(map[extKey]extDir)
	}
	t.extDir[extKey{name, id}] = extDir{raw: raw, senders: s}
}

// rawExtDir returns the raw extmap suffix remembered for (name, id) if it
// was mapped to the same senders value.
func (t *MidTable) rawExtDir(name string, id uint16, s Senders) (string, bool) {
	d, ok := t.extDir[extKey{name, id}]
	if !ok || d.senders != s {
		return "", false
	}
	return d.raw, true
}

// isMidToken reports an RFC 8866 token of 1..16 bytes.
func isMidToken(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(ch byte) bool {
	switch {
	case ch >= '0' && ch <= '9', ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z':
		return true
	}
	switch ch {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '{', '|', '}', '~':
		return true
	}
	return false
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
