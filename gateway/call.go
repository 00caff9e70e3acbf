package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// Call is one bridged call: two legs and the goroutine that owns their state.
// Its exported methods are safe for concurrent use.
type Call struct {
	id     string
	from   string
	target Target
	g      *Gateway
	lg     atomic.Pointer[slog.Logger] // logger(): built on first use
	legs   [2]Leg                      // caller, callee: set before run starts, never changed
	inbox  inbox
	done   chan struct{}
	once   sync.Once
	start  time.Time
	st     bridgeState // owned by the run goroutine
	// inSetup: the call holds an admission slot until the callee rings or
	// answers, or the call ends (endSetup).
	inSetup atomic.Bool
	// relay is set on a relay call (relay.go): no bridge here, events go
	// to another node.
	relay *Relay
}

// envelope is one event on its way into the call. leg is nil for the
// bridge's own events (timers, hang-up from outside).
type envelope struct {
	leg Leg
	ev  Event
}

// Internal events.
type (
	gatherTimeout struct{ side int }
	ringTimeout   struct{}
	offerTimeout  struct{ gen int }
	forceHangup   struct{ reason Reason }
)

func (gatherTimeout) EventName() string { return "gather-timeout" }
func (ringTimeout) EventName() string   { return "ring-timeout" }
func (offerTimeout) EventName() string  { return "offer-timeout" }
func (forceHangup) EventName() string   { return "force-hangup" }

func newCall(g *Gateway, from string, t Target, caller Leg) *Call {
	id := newID()
	return &Call{id: id, from: from, target: t, g: g, legs: [2]Leg{caller},
		inbox: inbox{max: g.cfg.InboxSize, running: true}, done: make(chan struct{}), start: time.Now()}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logger is the call's logger, with its call, from and to attributes. It is
// built on first use: most calls only write their end record (logEnd), which
// names them itself, so most never pay for building one.
func (c *Call) logger() *slog.Logger {
	if l := c.lg.Load(); l != nil {
		return l
	}
	l := lazylog.WithAttrs(c.g.log, slog.String("call", c.id), slog.String("from", c.from),
		slog.String("to", c.target.canonical()))
	c.lg.CompareAndSwap(nil, l)
	return c.lg.Load()
}

// debug logs at debug level, without building the call's logger when that
// level is off.
func (c *Call) debug(msg string, args ...any) {
	if l := c.lg.Load(); l != nil {
		l.Debug(msg, args...)
		return
	}
	if c.g.log.Enabled(context.Background(), slog.LevelDebug) {
		c.logger().Debug(msg, args...)
	}
}

// debugging reports whether debug would write. A record of every call
// checks it first: its arguments (the variadic slice, each value made an
// interface) cost allocations even when the level is off.
func (c *Call) debugging() bool {
	if l := c.lg.Load(); l != nil {
		return l.Enabled(context.Background(), slog.LevelDebug)
	}
	return c.g.log.Enabled(context.Background(), slog.LevelDebug)
}

// endSetup gives the call's admission slot back, once, and lets a
// goroutine waiting for the call's next event (serve) end.
func (c *Call) endSetup() {
	if c.inSetup.CompareAndSwap(true, false) {
		c.g.adm.release()
		c.inbox.poke()
	}
}

// ID is the gateway's identifier of the call (for logs; never sent as a
// protocol identifier).
func (c *Call) ID() string { return c.id }

// From is the caller's routable address.
func (c *Call) From() string { return c.from }

// Target is the callee's address as the caller named it.
func (c *Call) Target() Target { return c.target }

// Done is closed when the call has ended on both legs.
func (c *Call) Done() <-chan struct{} { return c.done }

// Post hands an event from leg into the call. It returns ErrCallEnded once the
// call is over. It blocks only while the call's queue is full.
func (c *Call) Post(leg Leg, ev Event) error { return c.postFrom(leg, ev, false) }

// PostInline is Post for a caller that can run the call itself: when no
// goroutine handles the call's events, the calling goroutine handles ev
// (and what was queued with it) before PostInline returns, instead of
// handing it to a goroutine that hands what it delivers on again (a
// wake-up and a switch per message, each way). Events queued meanwhile by
// others are handed to a goroutine: the caller handles one batch at most.
// The caller must hold no lock that a leg's Deliver might take (the call
// delivers to any of its legs, the caller's own included) and must not
// call it from inside a Deliver. A connection's reader goroutine is such
// a caller.
func (c *Call) PostInline(leg Leg, ev Event) error { return c.postFrom(leg, ev, true) }

// PostInlineAll is PostInline for events that leg has at once (a SIP
// leg's ringing and the answer that came right behind it): the call
// handles them in one batch, so that what they make a browser leg send
// goes out in one write (drainOnce).
func (c *Call) PostInlineAll(leg Leg, evs ...Event) error {
	select {
	case <-c.done:
		return ErrCallEnded
	default:
	}
	if c.relay != nil {
		for _, ev := range evs {
			if err := c.relay.Post(ev); err != nil {
				return err
			}
		}
		return nil
	}
	var buf [4]envelope
	envs := buf[:0]
	for _, ev := range evs {
		envs = append(envs, envelope{leg: leg, ev: ev})
	}
	cl, err := c.inbox.pushAll(envs, true)
	c.claimed(cl)
	return err
}

func (c *Call) postFrom(leg Leg, ev Event, inline bool) error {
	select {
	case <-c.done:
		return ErrCallEnded
	default:
	}
	if c.relay != nil {
		return c.relay.Post(ev)
	}
	return c.post(envelope{leg: leg, ev: ev}, inline)
}

// Hangup ends the call from outside (drain, shutdown), telling both legs.
func (c *Call) Hangup(r Reason) {
	if c.relay != nil {
		c.relay.Hangup(r)
		return
	}
	_ = c.post(envelope{ev: forceHangup{r}}, false)
}

// postTimer queues the event of a timer that fired: the timer's goroutine
// holds no lock and has nothing else to do, so it handles the event
// itself when the call is idle.
func (c *Call) postTimer(ev Event) { _ = c.post(envelope{ev: ev}, true) }

// post queues env and, when the call was idle, handles it on this
// goroutine (inline) or starts a goroutine for it.
func (c *Call) post(env envelope, inline bool) error {
	cl, err := c.inbox.push(env, inline)
	c.claimed(cl)
	return err
}

// claimed does what a push's claim asks of the poster.
func (c *Call) claimed(cl claim) {
	switch cl {
	case claimInline:
		c.runInline()
	case claimServe:
		go c.serve()
	}
}
