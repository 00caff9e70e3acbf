package sip

import (
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// Binding presence for a cluster: the registrar holds each user's
// bindings on the node that took the REGISTER (the flow is there), and the
// other nodes must learn which node that is. WatchBindings reports when a
// user's first binding appears here and when its last one goes (expired,
// removed, its connection closed); BindingUser and HasBindings let a
// router tell a call to a registered user that this node cannot serve.

// WatchBindings calls fn with present true when a registrar user gets its
// first binding on this adapter and false when its last binding goes. It
// first reports every user with bindings now. Calls come in order from
// one goroutine, which ends when the adapter closes; fn must not block for
// long. Only one watcher is kept: a second call replaces the first.
func (a *Adapter) WatchBindings(fn func(user string, present bool)) {
	q := &presenceQueue{wake: make(chan struct{}, 1)}
	a.reg.mu.Lock()
	a.reg.notify = q
	for user := range a.reg.users {
		q.items = append(q.items, presence{user, true})
	}
	a.reg.mu.Unlock()
	q.signal()
	go q.run(a.ctx.Done(), fn)
}

// BindingUser reports whether t names a registrar user of this gateway
// ("sip:user@<our host or realm>" with a user of InboundUsers), and
// returns the user.
func (a *Adapter) BindingUser(t gateway.Target) (string, bool) {
	user, ok := a.localUser(t)
	if !ok {
		return "", false
	}
	if _, ok := a.users[user]; !ok {
		return "", false
	}
	return user, true
}

// HasBindings reports whether user has a live binding on this adapter.
func (a *Adapter) HasBindings(user string) bool {
	return len(a.reg.live(user, time.Now())) > 0
}

type presence struct {
	user    string
	present bool
}

// presenceQueue hands binding presence changes to the watcher in order,
// without blocking the registrar (which pushes under its lock).
type presenceQueue struct {
	mu    sync.Mutex
	items []presence
	wake  chan struct{}
}

func (q *presenceQueue) push(user string, present bool) {
	q.mu.Lock()
	q.items = append(q.items, presence{user, present})
	q.mu.Unlock()
	q.signal()
}

func (q *presenceQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *presenceQueue) run(done <-chan struct{}, fn func(string, bool)) {
	for {
		select {
		case <-done:
			return
		case <-q.wake:
		}
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, p := range items {
			fn(p.user, p.present)
		}
	}
}
