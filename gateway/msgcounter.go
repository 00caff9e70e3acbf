package gateway

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// msgKey is one label set of sigbridge_messages_total.
type msgKey struct{ dialect, direction, typ string }

// msgCounters keeps the counter of each label set of
// sigbridge_messages_total once resolved: every signaling message is
// counted, and resolving the labels each time (hashing and checking three
// strings under the vector's lock) cost about 1 % of a browser → SIP call's
// CPU (docs/PERFORMANCE.md). Reads take no lock: the map is replaced, never
// changed, when a new label set appears, and label sets are few (dialects ×
// directions × message types, all bounded by the adapters).
type msgCounters struct {
	m  atomic.Pointer[map[msgKey]prometheus.Counter]
	mu sync.Mutex // serialises adding a label set
}

// get returns the counter of k, resolving it in vec the first time.
func (c *msgCounters) get(vec *prometheus.CounterVec, k msgKey) prometheus.Counter {
	if p := c.m.Load(); p != nil {
		if ctr, ok := (*p)[k]; ok {
			return ctr
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load() // added while this one waited?
	if old != nil {
		if ctr, ok := (*old)[k]; ok {
			return ctr
		}
	}
	next := map[msgKey]prometheus.Counter{}
	if old != nil {
		next = maps.Clone(*old)
	}
	ctr := vec.WithLabelValues(k.dialect, k.direction, k.typ)
	next[k] = ctr
	c.m.Store(&next)
	return ctr
}
