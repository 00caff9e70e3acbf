package oneslot

import "testing"

// TestSlot: a lone element goes into the slot's array, which is not used
// again while a batch is in it, and is cleared when freed; a queue that
// has an array keeps it.
func TestSlot(t *testing.T) {
	var s Slot[*int]
	x, y := new(int), new(int)
	q := append(s.Use(nil), x)
	if &q[0] != &s.one[0] {
		t.Fatal("a lone element did not go into the slot")
	}
	s.Took(q)
	if q2 := s.Use(nil); cap(q2) != 0 {
		t.Fatal("the slot was used again while its batch is out")
	}
	s.Free()
	if s.Elem() != nil || s.taken {
		t.Fatal("Free kept the element or the slot taken")
	}
	own := make([]*int, 0, 4)
	if q3 := s.Use(own); cap(q3) != 4 {
		t.Fatal("a queue with an array of its own lost it")
	}
	s.Took(append(own, y))
	if s.taken {
		t.Fatal("a batch in another array took the slot")
	}
}
