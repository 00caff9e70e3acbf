package cluster

import (
	"context"
	"slices"

	"github.com/sigbridge/sigbridge/gateway"
)

// Spread tells every node where a target lives, for targets that may live
// on several at once (a SIP user with bindings at two nodes). No node: the
// local dialer takes it (and says not found or offline as it always does).
// This node is among them when it holds the target too.
type Spread func(ctx context.Context, t gateway.Target) (nodes []string, err error)

// ForkDialer returns the dialer to install on the router for scheme: a
// target that spread puts on one other node becomes a remote leg (Dial), one
// on several nodes rings on all of them at once (gateway.Fork: the local
// dialer for this node's branch, Dial for the others'; first answer wins),
// and the rest go to local. It also Serves local for scheme, so the branch
// nodes ring their own part with it.
func (n *Node) ForkDialer(scheme string, local gateway.Dialer, spread Spread) gateway.Dialer {
	n.Serve(scheme, local)
	return gateway.DialerFunc(func(ctx context.Context, req gateway.DialRequest) (gateway.Leg, error) {
		nodes, err := spread(ctx, req.Target)
		if err != nil {
			return nil, err
		}
		switch {
		case len(nodes) == 0, len(nodes) == 1 && nodes[0] == n.cfg.Node:
			return local.Dial(ctx, req)
		case len(nodes) == 1:
			return n.Dial(ctx, nodes[0], req)
		}
		branches := make([]gateway.Branch, 0, len(nodes))
		for _, node := range nodes {
			b := gateway.Branch{Name: node, Dialer: local}
			if node != n.cfg.Node {
				b.Dialer = gateway.DialerFunc(func(ctx context.Context, r gateway.DialRequest) (gateway.Leg, error) {
					return n.Dial(ctx, node, r)
				})
			}
			branches = append(branches, b)
		}
		n.metrics.forks.Inc()
		return gateway.Fork(ctx, req, branches)
	})
}

// sortedNodes returns nodes sorted without duplicates.
func sortedNodes(nodes []string) []string {
	slices.Sort(nodes)
	return slices.Compact(nodes)
}
