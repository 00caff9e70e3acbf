package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// Registry kinds of the adapters at the edge of the cluster.
const (
	// KindXMPPComponent is the lease on an XEP-0114 component domain (key:
	// the domain): XMPP servers take one connection per component domain,
	// so one node holds it (Lead) and the others reach Jingle users through
	// that node (LeaderLocator).
	KindXMPPComponent = "xmpp-component"
	// KindSIPBinding says which node holds a SIP registrar user's bindings
	// (key: "<user>@<node>", one key per node with bindings; see
	// ShareSIPBindings).
	KindSIPBinding = "sip-binding"
)

// Leadership is decided by the registry: the leader of (kind, key) is the
// node holding it. Claim is an atomic create, or a compare-and-set on the
// revision of an entry whose holder is dead, so two nodes never both win;
// the entry lives as long as its holder's heartbeats (no per-key TTL), so
// a dead leader's lease is free NodeTimeout after its last heartbeat.

// Lead campaigns for (kind, key) until ctx ends and runs lead while this
// node holds it. lead gets a context that ends when the leadership is
// lost: another node holds the key (this node was cut off from NATS long
// enough to be judged dead, and the registry says so once it is back), or
// ctx ends; lead must return then. A lead that returns on its own gives the
// key up, and this node campaigns again after a pause. While NATS is
// unreachable the leader keeps leading: the others cannot take the key over
// without NATS either, and its calls need no NATS.
//
// A node campaigns only once it has been in step with the registry for
// Config.NodeTimeout: after a NATS restart, which loses the registry, the
// leader writes its claim again before anybody else may take the key.
//
// Lead blocks; it returns when ctx ends or the node closes, after lead has
// returned and the key was released.
func (n *Node) Lead(ctx context.Context, kind, key string, lead func(context.Context)) {
	if err := checkKey(kind, key); err != nil {
		n.log.Error("cluster: cannot campaign", "err", err)
		<-ctx.Done()
		return
	}
	log := n.log.With("kind", kind, "key", key)
	poll := n.leasePoll()
	var readySince time.Time
	for ctx.Err() == nil && !n.closed.Load() {
		switch {
		case !n.Ready():
			readySince = time.Time{}
		case readySince.IsZero():
			readySince = time.Now()
		}
		// A vacant key is claimed only after NodeTimeout in step with the
		// registry: after a NATS restart (the bucket lost) the holder writes
		// its claim again first, and keeps its calls.
		settled := !readySince.IsZero() && time.Since(readySince) >= n.cfg.NodeTimeout
		if settled && n.vacant(kind, key) {
			cctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
			err := n.Claim(cctx, kind, key)
			cancel()
			switch {
			case err == nil:
				log.Info("cluster: leading")
				n.leadTerm(ctx, kind, key, lead)
				n.Release(kind, key)
				log.Info("cluster: no longer leading")
				sleepCtx(ctx, 2*poll) // let another node take a turn
				continue
			case !errors.Is(err, ErrTaken) && !errors.Is(err, ErrUnavailable):
				log.Warn("cluster: campaign failed", "err", err)
			}
		}
		sleepCtx(ctx, poll)
	}
}

// vacant reports whether nobody alive holds (kind, key), or this node
// does: then Claim may succeed.
func (n *Node) vacant(kind, key string) bool {
	if !n.Ready() {
		return false
	}
	node, ok, err := n.Lookup(context.Background(), kind, key)
	return err == nil && (!ok || node == n.Name())
}

// leadTerm runs lead until it returns, ctx ends, or the key turns out to
// be held by another node.
func (n *Node) leadTerm(ctx context.Context, kind, key string, lead func(context.Context)) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx)
	}()
	t := time.NewTicker(n.leasePoll())
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if n.closed.Load() {
			cancel()
			<-done
			return
		}
		if !n.Ready() {
			continue // keep leading through a NATS outage
		}
		node, ok, err := n.Lookup(lctx, kind, key)
		switch {
		case err != nil:
		case ok && node != n.Name():
			n.log.Warn("cluster: leadership lost to another node", "kind", kind, "key", key, "leader", node)
			cancel()
			<-done
			return
		case !ok:
			// The entry is gone (a NATS restart lost the bucket before the
			// registry wrote our claims again): claim it back.
			cctx, ccancel := context.WithTimeout(lctx, n.cfg.DialTimeout)
			if err := n.Claim(cctx, kind, key); errors.Is(err, ErrTaken) {
				n.log.Warn("cluster: leadership lost to another node", "kind", kind, "key", key)
				ccancel()
				cancel()
				<-done
				return
			}
			ccancel()
		}
	}
}

// Leader returns the live node holding (kind, key).
func (n *Node) Leader(kind, key string) (node string, ok bool) {
	node, ok, err := n.Lookup(context.Background(), kind, key)
	return node, ok && err == nil
}

// LeaderLocator sends every target to the leader of (kind, key) when that
// is another node; with no leader, or this node leading, the local dialer
// takes it (and fails as it does without a connection: an XMPP adapter
// without its stream reports the target offline).
func (n *Node) LeaderLocator(kind, key string) Locator {
	return func(context.Context, gateway.Target) (string, bool, error) {
		node, ok := n.Leader(kind, key)
		if !ok || node == n.Name() {
			return "", false, nil
		}
		return node, true, nil
	}
}

// leasePoll is how often a campaigner looks at the registry (from
// memory) and a leader checks that it still holds its key.
func (n *Node) leasePoll() time.Duration {
	return min(n.cfg.HeartbeatInterval/2, 500*time.Millisecond)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
