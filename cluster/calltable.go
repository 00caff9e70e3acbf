package cluster

import (
	"sync"

	"github.com/sigbridge/sigbridge/gateway"
)

// callTable is the node's endpoints of calls that cross nodes, by call id
// and peer node.
type callTable struct {
	mu      sync.Mutex
	m       map[string]*endpoint
	orphans map[holder][]string // calls ended because the holder was declared dead
}

// maxOrphans bounds the calls remembered per dead node.
const maxOrphans = 1 << 14

func (t *callTable) init() { t.m, t.orphans = map[string]*endpoint{}, map[holder][]string{} }

// takeOrphans returns and forgets the calls ended when h was declared dead.
func (t *callTable) takeOrphans(h holder) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := t.orphans[h]
	delete(t.orphans, h)
	return ids
}

// forgetOrphans forgets the calls of h's node's boots other than h's:
// they were replaced by a later one, and their calls died with them.
func (t *callTable) forgetOrphans(h holder) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for o := range t.orphans {
		if o.node == h.node && o.boot != h.boot {
			delete(t.orphans, o)
		}
	}
}

func (t *callTable) add(e *endpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[e.key()] = e
}

func (t *callTable) remove(e *endpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[e.key()] == e {
		delete(t.m, e.key())
	}
}

func (t *callTable) get(id, node string) *endpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[callKey(id, node)]
}

func (t *callTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *callTable) snapshot() []*endpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*endpoint, 0, len(t.m))
	for _, e := range t.m {
		out = append(out, e)
	}
	return out
}

// setBoot corrects the boot of an endpoint's peer (guarded by t.mu, as
// peerGone reads it).
func (t *callTable) setBoot(e *endpoint, boot string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.peer.boot = boot
}

// peerGone ends every call with that boot of that node: its other leg
// gets connectivity-error.
func (t *callTable) peerGone(h holder) {
	t.mu.Lock()
	var gone []*endpoint
	for _, e := range t.m {
		if e.peer == h {
			gone = append(gone, e)
			if len(t.orphans[h]) < maxOrphans {
				t.orphans[h] = append(t.orphans[h], e.id)
			}
		}
	}
	t.mu.Unlock()
	for _, e := range gone {
		e.n.metrics.lost("node-lost")
		e.end(endReason{reason: gateway.ReasonDisconnected, tellLocal: true, cause: "node-lost"})
	}
}

// endAll ends every call crossing this node (shutdown).
func (t *callTable) endAll(r gateway.Reason) {
	for _, e := range t.snapshot() {
		e.end(endReason{reason: r, tellLocal: true, tellPeer: true, cause: "shutdown"})
	}
}
