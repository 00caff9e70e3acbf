package jingle

import (
	"sync"
	"testing"
)

func TestMidTableSlots(t *testing.T) {
	var m MidTable // the zero value works
	if _, ok := m.NameAt(0); ok {
		t.Error("empty table")
	}
	i := m.fromSDP(0, Slot{Mid: "a", Media: "audio", Creator: "initiator"})
	k := m.fromSDP(1, Slot{Mid: "", Media: "video"})
	if i != 0 || k != 1 || m.slots[1].Mid != "1" || m.slots[1].Name != "1" {
		t.Fatalf("%+v", m.slots)
	}
	// a slot is reused by a new mid only when rejected (RFC 3264)
	m.slots[1].Rejected = true
	if k := m.fromSDP(1, Slot{Mid: "x", Media: "audio"}); k != 1 || m.slots[1].Name != "x" {
		t.Errorf("reuse: %+v", m.slots)
	}
	// the creator of the first sighting sticks
	m.fromJingle(Slot{Name: "a", Media: "audio", Creator: "responder"})
	if m.slots[0].Creator != "initiator" {
		t.Errorf("creator changed: %+v", m.slots[0])
	}
	// a Jingle name equal to an existing mid of another slot
	m.fromSDP(2, Slot{Mid: "z"})
	m.fromJingle(Slot{Name: "q"})
	m.fromJingle(Slot{Name: "a-mid-clash"})
	if mid, _ := m.MidForName("q"); mid != "q" {
		t.Errorf("mid %q", mid)
	}
	if idx, ok := m.IndexForName("q"); !ok || idx != 3 {
		t.Errorf("index %d", idx)
	}
	if got := m.freshName("a"); got != "a-1" {
		t.Errorf("freshName %q", got)
	}
	if len(m.Slots()) != 5 {
		t.Errorf("%d slots", len(m.Slots()))
	}
}

func TestMidTableConcurrent(t *testing.T) {
	m := NewMidTable()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := audioContent("a")
			_, _ = JingleToSDP(&Jingle{Contents: []Content{c}}, Initiator, JingleToSDPOptions{Mids: m})
			m.MidForName("a")
			m.ContentForCandidate("a", 0)
		}()
	}
	wg.Wait()
	if len(m.Slots()) != 1 {
		t.Errorf("%+v", m.Slots())
	}
}

func TestIsMidToken(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "audio": true, "Media call": false, "": false,
		"0123456789abcdef": true, "0123456789abcdefg": false, "a/b": false, "a.b-c_d~": true} {
		if isMidToken(s) != want {
			t.Errorf("%q", s)
		}
	}
}
