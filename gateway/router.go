package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/pion/sdp/v3"
)

// DialRequest asks an adapter to create the callee leg of a call.
type DialRequest struct {
	Call   *Call
	From   string // the caller's authenticated, routable address
	Target Target
	// Offer is the caller's first offer, for adapters that need to look at it
	// before the bridge delivers it (JMI propose lists its media). It may be
	// nil. The bridge still delivers the Offer event to the new leg.
	Offer *sdp.SessionDescription
}

// Dialer creates callee legs for one or more target schemes. Dial must return
// promptly: signaling to the callee starts when the bridge delivers the Offer.
type Dialer interface {
	Dial(ctx context.Context, req DialRequest) (Leg, error)
}

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, req DialRequest) (Leg, error)

// Dial implements Dialer.
func (f DialerFunc) Dial(ctx context.Context, req DialRequest) (Leg, error) { return f(ctx, req) }

// Policy decides whether a caller may reach a target; a non-nil error
// (wrapping ErrForbidden) refuses the call.
type Policy func(from string, t Target) error

// Router maps targets to dialers. It is safe for concurrent use.
type Router struct {
	mu      sync.RWMutex
	dialers map[string]Dialer
	policy  Policy
}

// NewRouter returns an empty router: every target is refused until an
// adapter is registered for its scheme.
func NewRouter() *Router { return &Router{dialers: map[string]Dialer{}} }

// Handle registers d for scheme (SchemeUser, SchemeSIP, SchemeXMPP, SchemeTel).
func (r *Router) Handle(scheme string, d Dialer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dialers[scheme] = d
}

// SetPolicy installs a policy consulted before any dialer.
func (r *Router) SetPolicy(p Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policy = p
}

// Resolve parses target and returns the dialer that reaches it.
func (r *Router) Resolve(from, target string) (Target, Dialer, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return t, nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.policy != nil {
		if err := r.policy(from, t); err != nil {
			return t, nil, err
		}
	}
	d, ok := r.dialers[t.Scheme]
	if !ok {
		return t, nil, fmt.Errorf("%w: no route for %s targets", ErrForbidden, t.Scheme)
	}
	return t, d, nil
}
