package ws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/sigbridge/sigbridge/gateway"
)

// Dial implements gateway.Dialer for browser users: it creates the callee
// leg on the user's connection. The bridge then delivers the offer, which
// the browser gets as video-offer with the caller's address in name.
// Errors: gateway.ErrNotFound (never logged in since start),
// gateway.ErrOffline (not connected now), gateway.ErrBusy (an MDN client
// already in a call with the same caller).
func (s *Server) Dial(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	if req.Target.Scheme != gateway.SchemeUser {
		return nil, fmt.Errorf("%w: the browser adapter reaches only user names", gateway.ErrBadTarget)
	}
	c, err := s.dir.lookup(req.Target.User)
	if err != nil {
		return nil, err
	}
	return c.incoming(req)
}

// incoming registers the callee leg of a call to this connection. Clients
// without extensions cannot tell two calls with the same peer apart.
func (c *conn) incoming(req gateway.DialRequest) (*leg, error) {
	l := &leg{c: c, callID: newCallID(), peer: req.From, peerKey: canonicalTarget(req.From), self: c.Name()}
	l.call.Store(req.Call)
	if err := c.calls.add(l, !c.ext.Load()); err != nil {
		return nil, err
	}
	if c.debugging() {
		c.log.Debug("incoming call", "call", req.Call.ID(), "from", req.From)
	}
	return l, nil
}

// newCallID returns the callId the gateway chooses for an incoming call.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
