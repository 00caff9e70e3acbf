package oneslot

// Slot is a queue's own array of one element. The queue's owner calls,
// with its lock held: Use when it appends to the queue, Took when it hands
// the queue's elements to their consumer as a batch, and Free once that
// batch is done with. While a batch is in the array it is not used again:
// the consumer may still read it.
type Slot[T any] struct {
	one   [1]T
	taken bool
}

// Use returns the slot's array, empty, for a queue q without an array of
// its own (cap 0) while the slot is free; else q.
func (s *Slot[T]) Use(q []T) []T {
	if cap(q) == 0 && !s.taken {
		return s.one[:0]
	}
	return q
}

// Took records whether batch, just handed to the consumer, is in the
// slot's array.
func (s *Slot[T]) Took(batch []T) {
	s.taken = cap(batch) > 0 && &batch[:1][0] == &s.one[0]
}

// Free makes the slot usable again once the consumer is done with its
// batch. Its element is cleared, not kept alive while the queue is idle.
func (s *Slot[T]) Free() {
	if s.taken {
		var zero T
		s.one[0] = zero
		s.taken = false
	}
}

// Elem is what the slot's array holds: the zero value once freed.
func (s *Slot[T]) Elem() T { return s.one[0] }
