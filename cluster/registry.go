package cluster

import (
	"context"
)

// Registry kinds used by sigbridge's adapters.
const (
	KindUser = "user" // browser user names (ws directory)
)

// Change is one key appearing or disappearing in the registry.
type Change struct {
	Kind, Key string
	Node      string // the holder
	Online    bool   // false: released, or its node died
}

// Claim makes this node the holder of (kind, key), unique in the cluster:
// ErrTaken when another live node holds it; a key held by a dead node (or
// an earlier boot of this one) is taken over; a key this node holds is
// claimed again without error. ErrUnavailable when NATS is unreachable.
// Operations on one key are applied in the order they were called.
func (n *Node) Claim(ctx context.Context, kind, key string) error { return ErrUnavailable }

// Release gives (kind, key) up if this node holds it. It does not block:
// the release is applied in order with later claims of the same key.
func (n *Node) Release(kind, key string) {}

// Lookup returns the live node holding (kind, key), from the mirror.
func (n *Node) Lookup(ctx context.Context, kind, key string) (node string, ok bool, err error) {
	return "", false, ErrUnavailable
}

// List returns every key of kind held by a live node, with its holder.
func (n *Node) List(kind string) map[string]string { return nil }

// Watch calls fn for every change of kind, in order, from one goroutine,
// starting with every key online now (Online true). fn must not block for
// long. stop ends the watch.
func (n *Node) Watch(kind string, fn func(Change)) (stop func()) { return func() {} }
