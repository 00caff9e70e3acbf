package cluster

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// kvWatch feeds the mirror from a watch of the whole bucket. A new one is
// opened after every (re)connection; the mirror is replaced by its first
// complete copy, then updated entry by entry.
type kvWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *kvWatch) stop() {
	if w != nil {
		w.cancel()
		<-w.done
	}
}

// doneChan is closed when the watch ended on its own (nil watch: never).
func (w *kvWatch) doneChan() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.done
}

// openRegistry opens (creating if needed) the bucket and starts watching it.
func (n *Node) openRegistry() (*kvWatch, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	defer cancel()
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.cfg.Prefix, Description: "sigbridge cluster registry", History: 1,
		Storage: jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", n.cfg.Prefix, err)
	}
	n.kv.Store(&kv)
	wctx, wcancel := context.WithCancel(n.ctx)
	kw, err := kv.WatchAll(wctx)
	if err != nil {
		wcancel()
		return nil, fmt.Errorf("cluster: watch %s: %w", n.cfg.Prefix, err)
	}
	w := &kvWatch{cancel: wcancel, done: make(chan struct{})}
	go n.runWatch(wctx, kw, w.done)
	return w, nil
}

func (n *Node) runWatch(ctx context.Context, kw jetstream.KeyWatcher, done chan struct{}) {
	defer close(done)
	defer func() { _ = kw.Stop() }()
	snapshot := map[string]map[string]entry{}
	loading := true
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return
		case e, ok = <-kw.Updates():
		}
		if !ok {
			n.log.Warn("cluster registry watch ended")
			return
		}
		if e == nil { // the initial values are all in
			if loading {
				loading = false
				n.mir.replace(snapshot)
				snapshot = nil
				n.synced.Store(true)
				n.metrics.ready.Set(1)
				n.reconcile()
				n.log.Info("cluster registry in step", "nodes", n.Nodes())
			}
			continue
		}
		n.applyEntry(e, snapshot, loading)
	}
}

// applyEntry records one entry in the snapshot being loaded or the mirror.
func (n *Node) applyEntry(e jetstream.KeyValueEntry, snapshot map[string]map[string]entry, loading bool) {
	kind, key, ok := parseKVKey(e.Key())
	if !ok {
		return
	}
	del := e.Operation() != jetstream.KeyValuePut
	var en entry
	if !del {
		h, err := decodeHolder(e.Value())
		if err != nil {
			n.log.Warn("cluster registry entry ignored", "key", e.Key(), "err", err)
			return
		}
		en = entry{h: h, rev: e.Revision()}
		n.peerHeard(h, true)
	}
	if !loading {
		n.mir.apply(kind, key, en, del)
		if del {
			n.reassertIfOwned(e.Key())
		}
		return
	}
	if del {
		delete(snapshot[kind], key)
		return
	}
	if snapshot[kind] == nil {
		snapshot[kind] = map[string]entry{}
	}
	snapshot[kind][key] = en
}

// reassertIfOwned writes k again if this node still holds it: the delete
// came from a peer that declared this node dead (its heartbeats late on a
// starved box: a long pause, a busy CPU) and reaped its entries, while
// this node's connection stayed up, so no reconnection's reconcile would
// restore them; the users logged in here would stay unreachable from the
// other nodes until they logged in again. A release of our own takes k
// out of the owned set before it deletes it, so its delete is not
// reasserted. If another node has taken k meanwhile, the claim is lost
// (apply, opReassert).
func (n *Node) reassertIfOwned(k string) {
	if n.owned.has(k) {
		n.shardOf(k).q.push(&regOp{kind: opReassert, k: k})
	}
}

// reconcile, once the mirror is complete: write again what this node owns
// and the bucket lacks (it was lost, or a peer reaped it while this node
// was cut off), delete what this boot wrote and no longer owns.
func (n *Node) reconcile() {
	for _, k := range n.owned.list() {
		kind, key, _ := parseKVKey(k)
		if e, ok := n.mir.get(kind, key); !ok || e.h != n.self {
			n.shardOf(k).q.push(&regOp{kind: opReassert, k: k})
		}
	}
	for _, ke := range n.mir.selectEntries(func(e entry) bool { return e.h == n.self }) {
		k := kvKey(ke.kind, ke.key)
		n.shardOf(k).q.push(&regOp{kind: opDrop, k: k, rev: ke.e.rev})
	}
}

// reap deletes the entries of dead boots. One node does it, the first
// live one by name; the others only hide them.
func (n *Node) reap() {
	if !n.synced.Load() || n.Nodes()[0] != n.cfg.Node {
		return
	}
	for _, ke := range n.mir.selectEntries(func(e entry) bool { return n.live.stale(e.h) }) {
		k := kvKey(ke.kind, ke.key)
		if _, busy := n.reaping.LoadOrStore(k, struct{}{}); !busy {
			n.shardOf(k).q.push(&regOp{kind: opReap, k: k, rev: ke.e.rev})
		}
	}
}
