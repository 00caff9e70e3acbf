package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// heartbeat is what a node publishes on "<prefix>.hb".
type heartbeat struct {
	Node string `json:"n"`
	Boot string `json:"b"`
}

// holder names one boot of one node: who holds a key or a call.
type holder struct{ node, boot string }

// peer is what this node knows of another one.
type peer struct {
	boot string
	last time.Time // last heard (or first expected)
	dead bool
}

// liveness is the table of nodes and whether they are alive. A node is
// dead once not heard from for timeout while this node was connected, or
// when another boot of it is heard.
type liveness struct {
	self    holder
	timeout time.Duration

	mu        sync.Mutex
	peers     map[string]*peer
	connected bool
	since     time.Time // when this node's connection came (back)
}

func newLiveness(self holder, timeout time.Duration) *liveness {
	return &liveness{self: self, timeout: timeout, peers: map[string]*peer{}}
}

// setConnected records this node's own connection state: nobody is judged
// while it is down, and peers get a full timeout after it comes back.
func (l *liveness) setConnected(up bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if up && !l.connected {
		l.since = now
	}
	l.connected = up
}

func (l *liveness) isConnected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

// heard records a heartbeat, or with expect an entry naming a boot not
// heard yet (it gets a timeout to show up). Boots order by start time
// (newBoot), so a later boot replaces an earlier one, which is dead from
// then on, and an earlier boot is never taken for alive again. replaced is
// the boot that died (zero if none); changed says whether the node's
// state changed at all.
func (l *liveness) heard(h holder, now time.Time, expect bool) (replaced holder, changed bool) {
	if h.node == l.self.node {
		return holder{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.peers[h.node]
	switch {
	case !ok:
		l.peers[h.node] = &peer{boot: h.boot, last: now}
		return holder{}, true
	case h.boot < p.boot:
		return holder{}, false // a stale entry (or a zombie): never alive again
	case h.boot > p.boot:
		if !p.dead {
			replaced = holder{h.node, p.boot}
		}
		*p = peer{boot: h.boot, last: now}
		return replaced, true
	case expect:
		return holder{}, false
	case p.dead:
		p.dead, p.last = false, now
		return holder{}, true
	}
	p.last = now
	return holder{}, false
}

// stale reports whether h is a boot that can never be alive again: an
// earlier boot of a known node, or a dead one.
func (l *liveness) stale(h holder) bool {
	if h.node == l.self.node {
		return h.boot != l.self.boot
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.peers[h.node]
	return ok && (h.boot < p.boot || (h.boot == p.boot && p.dead))
}

// left marks that boot dead at once (it said bye); true if it was alive.
func (l *liveness) left(h holder) bool {
	if h.node == l.self.node {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.peers[h.node]
	if !ok || p.boot != h.boot || p.dead {
		return false
	}
	p.dead = true
	return true
}

// check marks the peers silent for too long dead and returns them.
func (l *liveness) check(now time.Time) []holder {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.connected || now.Sub(l.since) < l.timeout {
		return nil
	}
	var dead []holder
	for name, p := range l.peers {
		if !p.dead && now.Sub(p.last) > l.timeout {
			p.dead = true
			dead = append(dead, holder{name, p.boot})
		}
	}
	return dead
}

// alive reports whether that boot of that node is alive.
func (l *liveness) alive(h holder) bool {
	if h.node == l.self.node {
		return h.boot == l.self.boot
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.peers[h.node]
	return ok && !p.dead && p.boot == h.boot
}

// current returns the live boot of node.
func (l *liveness) current(node string) (holder, bool) {
	if node == l.self.node {
		return l.self, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.peers[node]
	if !ok || p.dead {
		return holder{}, false
	}
	return holder{node, p.boot}, true
}

// nodes returns the live nodes' names, this one included, sorted.
func (l *liveness) nodes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []string{l.self.node}
	for name, p := range l.peers {
		if !p.dead {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// newBoot returns a boot id that sorts after every earlier boot of the
// node (start time first, then randomness).
func newBoot(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(now.UnixNano()), hex.EncodeToString(r[:]))
}

func encodeHeartbeat(h holder) []byte {
	b, _ := json.Marshal(heartbeat{Node: h.node, Boot: h.boot})
	return b
}

func decodeHeartbeat(b []byte) (h holder, ok bool) {
	var hb heartbeat
	if len(b) > 256 || json.Unmarshal(b, &hb) != nil || !nameRE.MatchString(hb.Node) || hb.Boot == "" || len(hb.Boot) > 64 {
		return holder{}, false
	}
	return holder{hb.Node, hb.Boot}, true
}
