package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Call is one bridged call: two legs and the goroutine that owns their state.
// Its exported methods are safe for concurrent use.
type Call struct {
	id     string
	from   string
	target Target
	g      *Gateway
	log    *slog.Logger
	legs   [2]Leg // caller, callee: set before run starts, never changed
	inbox  inbox
	done   chan struct{}
	once   sync.Once
	start  time.Time
	st     bridgeState // owned by the run goroutine
	// inSetup: the call holds an admission slot until its first answer or
	// its end (endSetup).
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
	gatherTimeout struct{ side, gen int }
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
		log:   g.log.With("call", id, "from", from, "to", t.String()),
		inbox: inbox{max: g.cfg.InboxSize, busy: true}, done: make(chan struct{}), start: time.Now()}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// endSetup gives the call's admission slot back, once.
func (c *Call) endSetup() {
	if c.inSetup.CompareAndSwap(true, false) {
		c.g.adm.release()
	}
}

// ID is the gateway's identifier of the call (for logs; never sent as a
// protocol identifier).
func (c *Call) ID() string { return c.id }

// logger is the call's logger (its id, caller and target attached).
func (c *Call) logger() *slog.Logger { return c.log }

// From is the caller's routable address.
func (c *Call) From() string { return c.from }

// Target is the callee's address as the caller named it.
func (c *Call) Target() Target { return c.target }

// Done is closed when the call has ended on both legs.
func (c *Call) Done() <-chan struct{} { return c.done }

// Post hands an event from leg into the call. It returns ErrCallEnded once the
// call is over. It blocks only while the call's queue is full.
func (c *Call) Post(leg Leg, ev Event) error {
	select {
	case <-c.done:
		return ErrCallEnded
	default:
	}
	if c.relay != nil {
		return c.relay.Post(ev)
	}
	return c.post(envelope{leg: leg, ev: ev})
}

// Hangup ends the call from outside (drain, shutdown), telling both legs.
func (c *Call) Hangup(r Reason) {
	if c.relay != nil {
		c.relay.Hangup(r)
		return
	}
	c.postInternal(forceHangup{r})
}

func (c *Call) postInternal(ev Event) { _ = c.post(envelope{ev: ev}) }

// post queues env, starting the call's goroutine if none runs.
func (c *Call) post(env envelope) error {
	start, err := c.inbox.push(env)
	if start {
		go c.drain()
	}
	return err
}
