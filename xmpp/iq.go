package xmpp

import (
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// Pseudo conditions of an IQ that got no answer.
const (
	condTimeout    = "timeout"
	condStreamLost = "stream-lost"
)

// iqResult is the outcome of an IQ we sent: ok, or the error condition
// (an RFC 6120 condition, condTimeout or condStreamLost) and the
// application condition.
type iqResult struct {
	ok   bool
	cond string
	app  string
	text string
	// disco is the payload of a disco#info result.
	disco *discoQuery
}

// iqTracker matches IQ answers to the IQs we sent, on id and sender
// (protocols.md §6.2: a colliding id from another JID is ignored).
type iqTracker struct {
	mu      sync.Mutex
	pending map[string]*pendingIQ
}

type pendingIQ struct {
	to    jid.JID
	done  func(iqResult)
	timer *time.Timer
}

func newIQTracker() *iqTracker { return &iqTracker{pending: map[string]*pendingIQ{}} }

// add registers an IQ sent to to; done is called once with its outcome.
func (t *iqTracker) add(id string, to jid.JID, timeout time.Duration, done func(iqResult)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &pendingIQ{to: to, done: done}
	p.timer = time.AfterFunc(timeout, func() { t.finish(id, iqResult{cond: condTimeout}) })
	t.pending[id] = p
}

// resolve delivers an answer; it reports false (and changes nothing) when
// no IQ with that id was sent to from.
func (t *iqTracker) resolve(id string, from jid.JID, r iqResult) bool {
	t.mu.Lock()
	p := t.pending[id]
	if p == nil || !answersFrom(p.to, from) {
		t.mu.Unlock()
		return false
	}
	delete(t.pending, id)
	t.mu.Unlock()
	p.timer.Stop()
	p.done(r)
	return true
}

// answersFrom accepts an answer from the addressee, its bare JID or its
// server (which answers for unavailable resources).
func answersFrom(to, from jid.JID) bool {
	return from.Equal(to) || from.Equal(to.Bare()) || from.Equal(to.Domain())
}

// finish ends one pending IQ with r, if it is still pending.
func (t *iqTracker) finish(id string, r iqResult) {
	if p := t.take(id); p != nil {
		p.done(r)
	}
}

// forget drops a pending IQ without calling its done: its asker lost
// interest (a late answer is then ignored).
func (t *iqTracker) forget(id string) { t.take(id) }

// take removes a pending IQ and stops its timer; nil if none.
func (t *iqTracker) take(id string) *pendingIQ {
	t.mu.Lock()
	p := t.pending[id]
	delete(t.pending, id)
	t.mu.Unlock()
	if p != nil {
		p.timer.Stop()
	}
	return p
}

// failAll ends every pending IQ: the stream is gone.
func (t *iqTracker) failAll() {
	t.mu.Lock()
	all := t.pending
	t.pending = map[string]*pendingIQ{}
	t.mu.Unlock()
	for _, p := range all {
		p.timer.Stop()
		p.done(iqResult{cond: condStreamLost})
	}
}
