package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
)

// Gateway places calls: it resolves targets through its Router, asks the
// right adapter for the callee leg and starts the bridge. It tracks live calls
// for limits and drain.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	router   *Router
	metrics  *Metrics
	draining atomic.Bool
	adm      *admission

	mu      sync.Mutex
	calls   map[string]*Call
	perUser map[string]int
}

// New returns a gateway. log and metrics may be nil.
func New(cfg Config, router *Router, log *slog.Logger, metrics *Metrics) *Gateway {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Gateway{cfg: cfg, log: log, router: router, metrics: metrics, adm: newAdmission(cfg, log, metrics),
		calls: map[string]*Call{}, perUser: map[string]int{}}
}

// Router returns the gateway's router.
func (g *Gateway) Router() *Router { return g.router }

// Metrics returns the gateway's metrics (may be nil).
func (g *Gateway) Metrics() *Metrics { return g.metrics }

// Config returns the effective configuration.
func (g *Gateway) Config() Config { return g.cfg }

// PlaceRequest asks for a new call.
type PlaceRequest struct {
	Caller Leg                     // the caller's leg, created by its adapter
	From   string                  // the caller's authenticated, routable address
	Target string                  // whom to call, in any router syntax
	Offer  *sdp.SessionDescription // the caller's first offer
	// Inline lets Place deliver the offer on the calling goroutine before
	// it returns, instead of on a goroutine of the call's (which then
	// hands the delivery over to the callee's writer). For callers that
	// may use Call.PostInline (see there): a connection's reader.
	Inline bool
}

// Place starts a call: it resolves the target, creates the callee leg and
// delivers the offer to it. Errors wrap the sentinels of this package (see
// Status): the caller's adapter reports them in its dialect. An overloaded
// gateway refuses the call first of all (ErrOverloaded, see admission.go).
func (g *Gateway) Place(ctx context.Context, req PlaceRequest) (*Call, error) {
	if g.draining.Load() {
		return nil, ErrDraining
	}
	if err := g.adm.acquire(req.Caller.Kind()); err != nil {
		return nil, err
	}
	c, err := g.place(ctx, req)
	if err != nil {
		g.adm.release()
	}
	return c, err
}

func (g *Gateway) place(ctx context.Context, req PlaceRequest) (*Call, error) {
	if req.Offer == nil || len(req.Offer.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: a call needs an offer with at least one m-line", ErrBadSDP)
	}
	t, d, err := g.router.Resolve(req.From, req.Target)
	if err != nil {
		return nil, err
	}
	if t.Scheme == SchemeUser && t.User == req.From {
		return nil, ErrSelfCall
	}
	if err := g.reserve(req.From); err != nil {
		return nil, err
	}
	c := newCall(g, req.From, t, req.Caller)
	c.inSetup.Store(true)
	leg, err := d.Dial(ctx, DialRequest{Call: c, From: req.From, Target: t, Offer: req.Offer})
	if err != nil {
		g.release(req.From)
		return nil, err
	}
	c.legs[callee] = leg
	g.register(c)
	if c.debugging() {
		c.debug("call placed", "caller", req.Caller.Kind(), "callee", leg.Kind())
	}
	if req.Inline {
		c.run(req.Offer, true)
	} else {
		go c.run(req.Offer, false)
	}
	return c, nil
}

func (g *Gateway) reserve(from string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perUser[from] >= g.cfg.MaxCallsPerUser {
		return fmt.Errorf("%w: %s has %d calls", ErrTooManyCalls, from, g.perUser[from])
	}
	g.perUser[from]++
	return nil
}

func (g *Gateway) release(from string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(from)
}

func (g *Gateway) releaseLocked(from string) {
	if g.perUser[from]--; g.perUser[from] <= 0 {
		delete(g.perUser, from)
	}
}

func (g *Gateway) register(c *Call) {
	g.mu.Lock()
	g.calls[c.id] = c
	g.mu.Unlock()
	g.metrics.callStarted()
}

func (g *Gateway) remove(c *Call, outcome string) {
	g.mu.Lock()
	delete(g.calls, c.id)
	g.releaseLocked(c.from)
	g.mu.Unlock()
	g.metrics.callEnded(c.legs[caller].Kind(), c.legs[callee].Kind(), outcome, remoteNode(c.legs[callee]) != "")
}

// ActiveCalls returns the number of calls in progress.
func (g *Gateway) ActiveCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// Draining reports whether the gateway refuses new calls.
func (g *Gateway) Draining() bool { return g.draining.Load() }

// Drain refuses new calls (ErrDraining), waits for live calls to end until ctx
// is done, then hangs up the rest with ReasonShutdown and waits for them to
// finish (at most a few seconds).
func (g *Gateway) Drain(ctx context.Context) {
	g.draining.Store(true)
	if g.waitIdle(ctx) {
		return
	}
	left := g.snapshot()
	g.log.Info("drain deadline reached; hanging up calls", "calls", len(left))
	for _, c := range left {
		c.Hangup(ReasonShutdown)
	}
	for _, c := range left {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func (g *Gateway) waitIdle(ctx context.Context) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for g.ActiveCalls() > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

func (g *Gateway) snapshot() []*Call {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*Call, 0, len(g.calls))
	for _, c := range g.calls {
		out = append(out, c)
	}
	return out
}
