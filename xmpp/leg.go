package xmpp

import (
	"fmt"

	"github.com/sigbridge/sigbridge/gateway"
)

// leg is the gateway's view of a Jingle session.
//
// Caps: Jingle trickles (transport-info), so Trickle is true. MDNS is false:
// libnice-based clients (Dino, Gajim) cannot resolve ".local" candidates,
// and a client that can (Conversations) still connects through the peer's
// other candidates or as peer-reflexive, because ICE needs candidates from
// one side only. The bridge therefore drops mDNS candidates toward XMPP.
type leg struct{ s *session }

// Kind implements gateway.Leg.
func (l *leg) Kind() string { return dialect }

// Caps implements gateway.Leg.
func (l *leg) Caps() gateway.Caps { return gateway.Caps{Trickle: true, MDNS: false} }

// Deliver implements gateway.Leg: it queues ev for the session's goroutine
// and never blocks. Events for a session that is over are dropped (the
// bridge already has, or is about to get, our Hangup).
func (l *leg) Deliver(ev gateway.Event) error {
	if l.s.getState() == stEnded {
		return nil
	}
	if !l.s.post(evBridge{ev: ev}) && l.s.getState() != stEnded {
		return fmt.Errorf("xmpp: session %s: queue full", clip(l.s.sid()))
	}
	return nil
}
