package cluster

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// entry is one registry key as stored: its holder and revision.
type entry struct {
	h   holder
	rev uint64
}

// kindRE: registry kinds, the first token of a KV key.
var kindRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// kvKey is the KV key of (kind, key): the key hex-encoded, so any string
// is a valid token.
func kvKey(kind, key string) string { return kind + "." + hex.EncodeToString([]byte(key)) }

func parseKVKey(k string) (kind, key string, ok bool) {
	kind, enc, ok := strings.Cut(k, ".")
	if !ok || !kindRE.MatchString(kind) {
		return "", "", false
	}
	b, err := hex.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return kind, string(b), true
}

func encodeHolder(h holder) []byte { return []byte(h.node + "/" + h.boot) }

func decodeHolder(b []byte) (holder, error) {
	node, boot, ok := strings.Cut(string(b), "/")
	if !ok || !nameRE.MatchString(node) || boot == "" || len(boot) > 64 {
		return holder{}, fmt.Errorf("cluster: bad registry value %q", b)
	}
	return holder{node, boot}, nil
}

// mirror is this node's copy of the registry, fed by a KV watch, and what
// it has shown its watchers: the keys whose holder is alive.
type mirror struct {
	live *liveness

	mu       sync.Mutex
	entries  map[string]map[string]entry  // kind → key → entry
	shown    map[string]map[string]string // kind → key → node, as last told
	watchers map[string]map[*watcher]struct{}
}

func newMirror(live *liveness) *mirror {
	return &mirror{live: live, entries: map[string]map[string]entry{}, shown: map[string]map[string]string{},
		watchers: map[string]map[*watcher]struct{}{}}
}

// apply records one KV update (del: the key is gone).
func (m *mirror) apply(kind, key string, e entry, del bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if del {
		delete(m.entries[kind], key)
	} else {
		if m.entries[kind] == nil {
			m.entries[kind] = map[string]entry{}
		}
		m.entries[kind][key] = e
	}
	m.recomputeLocked(kind, key)
}

// replace swaps in a whole new copy (after a new watch loaded it).
func (m *mirror) replace(all map[string]map[string]entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = all
	m.recomputeAllLocked()
}

// livenessChanged re-evaluates every key after nodes died or appeared.
func (m *mirror) livenessChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recomputeAllLocked()
}

func (m *mirror) recomputeAllLocked() {
	for kind, keys := range m.shown {
		for key := range keys {
			if _, ok := m.entries[kind][key]; !ok {
				m.recomputeLocked(kind, key)
			}
		}
	}
	for kind, keys := range m.entries {
		for key := range keys {
			m.recomputeLocked(kind, key)
		}
	}
}

// recomputeLocked tells the watchers if the key's visible holder changed.
func (m *mirror) recomputeLocked(kind, key string) {
	e, ok := m.entries[kind][key]
	visible := ok && m.live.alive(e.h)
	old, was := m.shown[kind][key]
	if was && (!visible || old != e.h.node) {
		delete(m.shown[kind], key)
		m.emitLocked(Change{Kind: kind, Key: key, Node: old})
	}
	if visible && (!was || old != e.h.node) {
		if m.shown[kind] == nil {
			m.shown[kind] = map[string]string{}
		}
		m.shown[kind][key] = e.h.node
		m.emitLocked(Change{Kind: kind, Key: key, Node: e.h.node, Online: true})
	}
}

func (m *mirror) emitLocked(c Change) {
	for w := range m.watchers[c.Kind] {
		w.q.push(c)
	}
}

// lookup returns the live holder of a key.
func (m *mirror) lookup(kind, key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.shown[kind][key]
	return n, ok
}

// get returns the stored entry of a key, alive or not.
func (m *mirror) get(kind, key string) (entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[kind][key]
	return e, ok
}

func (m *mirror) list(kind string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.shown[kind]))
	for k, v := range m.shown[kind] {
		out[k] = v
	}
	return out
}

// keyed is one stored key with its entry.
type keyed struct {
	kind, key string
	e         entry
}

// select returns the stored entries for which keep is true.
func (m *mirror) selectEntries(keep func(entry) bool) []keyed {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []keyed
	for kind, keys := range m.entries {
		for key, e := range keys {
			if keep(e) {
				out = append(out, keyed{kind, key, e})
			}
		}
	}
	return out
}

// watcher delivers one subscriber's changes from its own goroutine.
type watcher struct {
	q    *fifo[Change]
	fn   func(Change)
	stop chan struct{}
	once sync.Once
}

// watch starts a watcher of kind; it first gets every key shown now.
func (m *mirror) watch(kind string, fn func(Change)) func() {
	w := &watcher{q: newFIFO[Change](), fn: fn, stop: make(chan struct{})}
	m.mu.Lock()
	if m.watchers[kind] == nil {
		m.watchers[kind] = map[*watcher]struct{}{}
	}
	m.watchers[kind][w] = struct{}{}
	for key, node := range m.shown[kind] {
		w.q.push(Change{Kind: kind, Key: key, Node: node, Online: true})
	}
	m.mu.Unlock()
	go w.run()
	return func() {
		m.mu.Lock()
		delete(m.watchers[kind], w)
		m.mu.Unlock()
		w.once.Do(func() { close(w.stop) })
	}
}

func (w *watcher) run() {
	for {
		select {
		case <-w.stop:
			return
		case <-w.q.ready():
		}
		for _, c := range w.q.take() {
			select {
			case <-w.stop:
				return
			default:
			}
			w.fn(c)
		}
	}
}
