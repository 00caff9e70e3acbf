package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Registry kinds used by sigbridge's adapters.
const (
	KindUser = "user" // browser user names (ws directory)
)

// maxKeyLen bounds registry keys (before encoding).
const maxKeyLen = 256

// numShards is how many goroutines apply registry operations; the ones
// on one key always go to the same shard, in order.
const numShards = 8

// Change is one key appearing or disappearing in the registry.
type Change struct {
	Kind, Key string
	Node      string // the holder
	Online    bool   // false: released, or its node died
}

// Claim makes this node the holder of (kind, key), unique in the cluster
// (kinds are 1-32 of a-z 0-9 -, keys 1-256 bytes of anything):
// ErrTaken when another node that may be alive holds it; a key held by a
// dead node (or an earlier boot of this one) is taken over; a key this
// node holds is claimed again without error. ErrUnavailable when NATS is
// unreachable. Operations on one key are applied in the order they were
// called; a Claim abandoned through ctx is undone.
func (n *Node) Claim(ctx context.Context, kind, key string) error {
	if err := checkKey(kind, key); err != nil {
		return err
	}
	if !n.Ready() {
		return ErrUnavailable
	}
	op := &regOp{kind: opClaim, k: kvKey(kind, key), ctx: ctx, done: make(chan error, 1)}
	n.shardOf(op.k).q.push(op)
	select {
	case err := <-op.done:
		n.metrics.registryOp("claim", err)
		return err
	case <-ctx.Done():
		n.shardOf(op.k).q.push(&regOp{kind: opRelease, k: op.k})
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// Release gives (kind, key) up if this node holds it. It does not block:
// the release is applied in order with later claims of the same key.
func (n *Node) Release(kind, key string) {
	if checkKey(kind, key) != nil {
		return
	}
	k := kvKey(kind, key)
	n.shardOf(k).q.push(&regOp{kind: opRelease, k: k})
}

// OnLost registers fn, called when a key this node held turns out to be
// held by another node (taken while this node was cut off and declared
// dead). fn runs on a registry goroutine: it must not block or call Claim.
func (n *Node) OnLost(fn func(kind, key string)) {
	n.lostMu.Lock()
	defer n.lostMu.Unlock()
	n.lostFns = append(n.lostFns, fn)
}

func (n *Node) lost(kind, key string) {
	n.lostMu.Lock()
	fns := n.lostFns
	n.lostMu.Unlock()
	for _, fn := range fns {
		fn(kind, key)
	}
}

// Lookup returns the live node holding (kind, key), from the mirror.
// ErrUnavailable when the mirror is not in step with the bucket.
func (n *Node) Lookup(_ context.Context, kind, key string) (node string, ok bool, err error) {
	if !n.synced.Load() {
		return "", false, ErrUnavailable
	}
	node, ok = n.mir.lookup(kind, key)
	return node, ok, nil
}

// bucketLookupTimeout bounds lookupBucket's read.
const bucketLookupTimeout = 500 * time.Millisecond

// lookupBucket reads (kind, key) from the bucket itself, for a key the
// mirror lacks: the claim of a login that has just completed on another
// node is in the bucket (Claim returns once it is) before every node's
// watch has delivered it. The holder must be a live boot, as in the
// mirror. Any error (no bucket yet, NATS slow or away, no such key, a bad
// value) is "not held": the caller dials locally, which says not found.
func (n *Node) lookupBucket(ctx context.Context, kind, key string) (string, bool) {
	if checkKey(kind, key) != nil {
		return "", false
	}
	kv := n.kv.Load()
	if kv == nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, bucketLookupTimeout)
	defer cancel()
	e, err := (*kv).Get(ctx, kvKey(kind, key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		n.metrics.registryOp("lookup", nil)
		return "", false
	}
	n.metrics.registryOp("lookup", err)
	if err != nil {
		return "", false
	}
	h, err := decodeHolder(e.Value())
	if err != nil || !n.live.alive(h) {
		return "", false
	}
	return h.node, true
}

// List returns every key of kind held by a live node, with its holder.
func (n *Node) List(kind string) map[string]string { return n.mir.list(kind) }

// Watch calls fn for every change of kind, in order, from one goroutine,
// starting with every key online now (Online true). fn must not block for
// long. stop ends the watch.
func (n *Node) Watch(kind string, fn func(Change)) (stop func()) { return n.mir.watch(kind, fn) }

func checkKey(kind, key string) error {
	if !kindRE.MatchString(kind) || key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("cluster: bad registry key %q/%q", kind, key)
	}
	return nil
}

type opKind int

const (
	opClaim    opKind = iota
	opRelease         // the caller's release: delete if this node holds it
	opReassert        // after a resync, or a peer reaped it: claim again what this node owns
	opDrop            // delete an entry of this boot that it does not own
	opReap            // delete an entry of a dead node
)

// regOp is one registry operation, applied by the key's shard.
type regOp struct {
	kind opKind
	k    string
	rev  uint64 // opDrop, opReap: the revision seen
	ctx  context.Context
	done chan error // opClaim
}

type shard struct{ q *fifo[*regOp] }

func (n *Node) shardOf(k string) *shard {
	h := fnv.New32a()
	_, _ = h.Write([]byte(k))
	return n.shards[h.Sum32()%numShards]
}

func (n *Node) startShards() {
	n.shards = make([]*shard, numShards)
	for i := range n.shards {
		s := &shard{q: newFIFO[*regOp]()}
		n.shards[i] = s
		n.wg.Add(1)
		go n.runShard(s)
	}
}

func (n *Node) runShard(s *shard) {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			for _, op := range s.q.take() {
				op.finish(ErrUnavailable)
			}
			return
		case <-s.q.ready():
		}
		for _, op := range s.q.take() {
			n.apply(op)
		}
	}
}

func (op *regOp) finish(err error) {
	if op.done != nil {
		op.done <- err
	}
}

func (n *Node) apply(op *regOp) {
	ctx := op.ctx
	if ctx == nil {
		ctx = n.ctx
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	defer cancel()
	kv := n.kv.Load()
	if kv == nil {
		n.reaping.Delete(op.k)
		if op.kind == opRelease {
			n.owned.take(op.k) // the resync drops what is left of it
		}
		op.finish(ErrUnavailable)
		return
	}
	switch op.kind {
	case opClaim:
		op.finish(n.claim(ctx, *kv, op.k))
	case opReassert:
		if !n.owned.has(op.k) {
			return
		}
		if err := n.claim(ctx, *kv, op.k); errors.Is(err, ErrTaken) {
			n.owned.remove(op.k)
			kind, key, _ := parseKVKey(op.k)
			n.log.Warn("cluster claim lost to another node while disconnected or declared dead", "kind", kind, "key", key)
			n.lost(kind, key)
		}
	case opRelease:
		if rev, ok := n.owned.take(op.k); ok {
			n.deleteMine(ctx, *kv, op.k, rev)
		}
	case opDrop, opReap:
		if op.kind == opReap {
			defer n.reaping.Delete(op.k)
		}
		if op.kind == opDrop && n.owned.has(op.k) {
			return
		}
		_ = (*kv).Delete(ctx, op.k, jetstream.LastRevision(op.rev))
	}
}

// claim creates the key, or takes it over from a boot that is dead.
func (n *Node) claim(ctx context.Context, kv jetstream.KeyValue, k string) error {
	val := encodeHolder(n.self)
	for range 3 {
		rev, err := kv.Create(ctx, k, val)
		if err == nil {
			n.owned.add(k, rev)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		h, derr := decodeHolder(e.Value())
		if derr == nil && h == n.self {
			n.owned.add(k, e.Revision())
			return nil
		}
		if derr == nil && !n.live.stale(h) {
			n.peerHeard(h, true) // a node not heard yet gets its timeout
			return ErrTaken
		}
		if rev, err := kv.Update(ctx, k, val, e.Revision()); err == nil {
			n.owned.add(k, rev)
			return nil
		}
	}
	return ErrTaken
}

// deleteMine deletes k if this boot holds it. rev is the revision this
// node wrote, if known.
func (n *Node) deleteMine(ctx context.Context, kv jetstream.KeyValue, k string, rev uint64) {
	if rev == 0 {
		e, err := kv.Get(ctx, k)
		if err != nil {
			return
		}
		if h, err := decodeHolder(e.Value()); err != nil || h != n.self {
			return
		}
		rev = e.Revision()
	}
	if err := kv.Delete(ctx, k, jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		n.log.Debug("cluster release failed", "key", k, "err", err)
	}
}

// ownedSet is what this node holds, with the revision it wrote, so that
// it can write it again after the bucket was lost and release it without
// reading it first. Only the shards change it, in each key's order.
type ownedSet struct {
	mu   sync.Mutex
	keys map[string]uint64
}

func (o *ownedSet) init() { o.keys = map[string]uint64{} }

func (o *ownedSet) add(k string, rev uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys[k] = rev
}

func (o *ownedSet) remove(k string) { o.take(k) }

// take forgets k and returns the revision this node wrote.
func (o *ownedSet) take(k string) (uint64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rev, ok := o.keys[k]
	delete(o.keys, k)
	return rev, ok
}

func (o *ownedSet) has(k string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.keys[k]
	return ok
}

func (o *ownedSet) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, len(o.keys))
	for k := range o.keys {
		out = append(out, k)
	}
	return out
}
