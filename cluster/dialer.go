package cluster

import (
	"context"
	"fmt"

	"github.com/sigbridge/sigbridge/gateway"
)

// Locator tells where a target lives: on node (remote true), or here
// (remote false: the local dialer takes it, and reports unknown or offline
// targets as it always does).
type Locator func(ctx context.Context, t gateway.Target) (node string, remote bool, err error)

// Serve makes local the dialer that answers other nodes' dials of targets
// of scheme on this node. RemoteDialer calls it.
func (n *Node) Serve(scheme string, local gateway.Dialer) {}

// RemoteDialer returns the dialer to install on the router for scheme: a
// target that locate puts on another node becomes a remote leg (Dial);
// the rest go to local. It also Serves local for scheme.
func (n *Node) RemoteDialer(scheme string, local gateway.Dialer, locate Locator) gateway.Dialer {
	n.Serve(scheme, local)
	return gateway.DialerFunc(func(ctx context.Context, req gateway.DialRequest) (gateway.Leg, error) {
		node, remote, err := locate(ctx, req.Target)
		if err != nil {
			return nil, err
		}
		if !remote {
			return local.Dial(ctx, req)
		}
		return n.Dial(ctx, node, req)
	})
}

// RegistryLocator locates targets through the registry: key(t) names the
// registry key of t of kind; a key held by another live node is remote,
// anything else local.
func (n *Node) RegistryLocator(kind string, key func(gateway.Target) string) Locator {
	return func(ctx context.Context, t gateway.Target) (string, bool, error) {
		node, ok, err := n.Lookup(ctx, kind, key(t))
		if err != nil || !ok || node == n.Name() {
			return "", false, nil
		}
		return node, true, nil
	}
}

// Dial asks node to create the callee leg of req with its local dialer
// for req.Target's scheme, and returns the leg that carries the call's
// events to it. Errors wrap the gateway sentinel the other node reported
// (gateway.Status), or gateway.ErrOffline when the node is not alive or
// does not answer within Config.DialTimeout.
func (n *Node) Dial(ctx context.Context, node string, req gateway.DialRequest) (gateway.Leg, error) {
	return nil, fmt.Errorf("%w: %s", gateway.ErrOffline, ErrNodeGone)
}
