package gateway

import (
	"log/slog"
	"time"

	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// Relay is where a relay call sends what its leg posts: the bridge of the
// call runs somewhere else (another cluster node) and Relay carries the
// events there.
type Relay struct {
	// Post takes an event the leg posted, in order. It must not block for
	// long (queue); an error is returned to the leg.
	Post func(Event) error
	// Hangup ends the call from outside (Call.Hangup on the relay call).
	Hangup func(Reason)
}

// NewRelayCall returns a Call without a bridge, for a callee leg created on
// this node for a call bridged on another one. id names the call in logs
// (the owner's id); from and t are the caller and target as the owner
// resolved them. Events the leg posts go to r.Post; whoever relays the
// other side's events calls the leg's Deliver (from one goroutine, as a
// bridge would) and EndRelay once the call is over. A relay call is not
// counted by any Gateway: the call, its limits and its metrics belong to
// the owner's gateway.
func NewRelayCall(id, from string, t Target, log *slog.Logger, r Relay) *Call {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Call{id: id, from: from, target: t, relay: &r, start: time.Now(), done: make(chan struct{})}
	c.lg.Store(lazylog.WithAttrs(log, slog.String("call", id), slog.String("from", from),
		slog.String("to", t.String())))
	return c
}

// IsRelay reports whether c is a relay call (NewRelayCall).
func (c *Call) IsRelay() bool { return c.relay != nil }

// EndRelay marks a relay call over: Done closes and Post answers
// ErrCallEnded. It does nothing on a bridged call.
func (c *Call) EndRelay() {
	if c.relay == nil {
		return
	}
	c.once.Do(func() { close(c.done) })
}
