package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// BindingSource is a SIP registrar as the cluster sees it (sip.Adapter):
// which users have bindings on this node, and which targets name them.
type BindingSource interface {
	// WatchBindings reports a user's first binding here (true) and the
	// loss of its last one (false), in order, from one goroutine.
	WatchBindings(fn func(user string, present bool))
	// BindingUser reports whether t names a registrar user of this
	// gateway, and which.
	BindingUser(t gateway.Target) (string, bool)
	// HasBindings reports whether user has a live binding here.
	HasBindings(user string) bool
}

// ShareSIPBindings publishes in the registry which registrar users have
// bindings on this node (kind KindSIPBinding, key "<user>@<node>": several
// nodes may hold bindings of one user, each its own key) until ctx ends
// (or the node closes), and returns the Spread of the sip: scheme for
// ForkDialer: a call to a registrar user rings every live node that holds
// bindings of the user, this one included (each node forks to its own
// bindings over their flows, as a single sigbridge does); anything else
// stays local.
func (n *Node) ShareSIPBindings(ctx context.Context, src BindingSource) Spread {
	p := &bindingPublisher{n: n, want: map[string]bool{}, wake: make(chan struct{}, 1)}
	src.WatchBindings(p.set)
	go p.run(ctx)
	return func(_ context.Context, t gateway.Target) ([]string, error) {
		user, ok := src.BindingUser(t)
		if !ok {
			return nil, nil
		}
		nodes := n.bindingNodes(user)
		if src.HasBindings(user) {
			nodes = append(nodes, n.Name())
		}
		return sortedNodes(nodes), nil
	}
}

// bindingNodes returns the other live nodes holding bindings of user.
func (n *Node) bindingNodes(user string) []string {
	var nodes []string
	for k, node := range n.List(KindSIPBinding) {
		if node != n.Name() && k == user+"@"+node {
			nodes = append(nodes, node)
		}
	}
	return nodes
}

// bindingPublisher keeps the registry in step with the users that have
// bindings here: it claims their keys, retrying while NATS is
// unreachable, and releases them when their last binding goes.
type bindingPublisher struct {
	n    *Node
	mu   sync.Mutex
	want map[string]bool // user → claimed
	wake chan struct{}
}

func (p *bindingPublisher) set(user string, present bool) {
	p.mu.Lock()
	if present {
		p.want[user] = false
	} else {
		delete(p.want, user)
	}
	p.mu.Unlock()
	if !present {
		p.n.Release(KindSIPBinding, user+"@"+p.n.Name())
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run claims what is wanted and not claimed yet: at once on a change, and
// every heartbeat for claims that failed; when ctx ends it releases all.
func (p *bindingPublisher) run(ctx context.Context) {
	t := time.NewTicker(p.n.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-p.n.ctx.Done(): // the node closed: its claims went with it
			return
		case <-ctx.Done():
			p.mu.Lock()
			for user := range p.want {
				p.n.Release(KindSIPBinding, user+"@"+p.n.Name())
			}
			p.mu.Unlock()
			return
		case <-p.wake:
		case <-t.C:
		}
		p.claimPending(ctx)
	}
}

func (p *bindingPublisher) claimPending(ctx context.Context) {
	p.mu.Lock()
	var pending []string
	for user, claimed := range p.want {
		if !claimed {
			pending = append(pending, user)
		}
	}
	p.mu.Unlock()
	for _, user := range pending {
		cctx, cancel := context.WithTimeout(ctx, p.n.cfg.DialTimeout)
		err := p.n.Claim(cctx, KindSIPBinding, user+"@"+p.n.Name())
		cancel()
		if err != nil {
			if !errors.Is(err, ErrUnavailable) {
				p.n.log.Warn("cluster: publishing a SIP binding failed", "user", user, "err", err)
			}
			continue
		}
		p.mu.Lock()
		if _, ok := p.want[user]; ok {
			p.want[user] = true
		} else {
			p.n.Release(KindSIPBinding, user+"@"+p.n.Name()) // gone meanwhile
		}
		p.mu.Unlock()
	}
}
