package xmpp

import (
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// Session ping (XEP-0166, informational messages: a session-info without
// payload, which the peer must answer with an IQ result).
//
// A Jingle peer whose connection drops sends no session-terminate, so
// while a session is pending or active the session pings its peer's full
// JID every SessionPingInterval, one ping at a time, each bounded by
// SessionPingTimeout:
//
//   - a result: the peer is alive;
//   - an error saying the peer (or its session) is no longer there
//     (peerGoneConds), or no answer at all: the call ends toward the gateway
//     with connectivity-error, and the peer gets a best-effort
//     session-terminate (connectivity-error) unless it already said the
//     session is unknown;
//   - any other error: the peer is there but dislikes pings; the call goes
//     on (and the pings too, since an error answer still proves it alive);
//   - the stream to our server was lost: evStreamLost ends the call.
//
// A peer is therefore noticed gone at most SessionPingInterval +
// SessionPingTimeout after it vanished. Pings have their own events and
// generation counter, so they never touch the results of other Jingle IQs
// (evIQ, evRenegIQ). An unavailable presence from the peer's full JID
// (presence.go) ends the call the same way, at once.

// Ping events.
type (
	evPingTimer struct{ gen int }
	evPingIQ    struct {
		gen int
		res iqResult
	}
	evPeerOffline struct{ from jid.JID } // an unavailable presence from the peer's full JID
)

// pinger is the session ping state (owned by the session's goroutine).
type pinger struct {
	pingGen     int         // the current ping cycle; older events are ignored
	pingTimer   *time.Timer // until the next ping
	pingID      string      // the ping in flight, "" if none
	pingRefused bool        // the peer answered a ping with an error (logged once)
}

// peerGoneConds are the outcomes of a ping that mean the peer is gone: error
// conditions, and our own condTimeout (no answer).
var peerGoneConds = map[string]bool{
	"item-not-found": true, "service-unavailable": true, "recipient-unavailable": true,
	"remote-server-not-found": true, "remote-server-timeout": true, "gone": true, condTimeout: true,
}

// appUnknownSession is the Jingle error condition of a session the peer
// does not know (any more).
const appUnknownSession = "unknown-session"

// pinging reports whether the session is in a state that is pinged.
func (s *session) pinging() bool {
	st := s.getState()
	return st == stPending || st == stActive
}

// startPings starts the ping cycle once session-initiate was exchanged
// (idempotent).
func (s *session) startPings() {
	if s.pingTimer == nil && s.pingID == "" {
		s.schedulePing()
	}
}

// schedulePing arms the timer of the next ping, unless pings are disabled
// or the session is not pinged.
func (s *session) schedulePing() {
	d := s.a.cfg.SessionPingInterval
	if d <= 0 || !s.pinging() {
		return
	}
	s.pingGen++
	gen := s.pingGen
	s.pingTimer = time.AfterFunc(d, func() { s.post(evPingTimer{gen: gen}) })
}

// onPingTimer sends one ping (never two in flight).
func (s *session) onPingTimer() {
	if !s.pinging() || s.pingID != "" {
		return
	}
	gen := s.pingGen
	ping := &jingle.Jingle{Action: jingle.ActionSessionInfo} // no initiator: protocols.md §2.2
	s.pingID = s.sendJingleWithin(ping, s.a.cfg.SessionPingTimeout,
		func(r iqResult) any { return evPingIQ{gen: gen, res: r} })
}

// onPingResult judges the answer to a ping.
func (s *session) onPingResult(r iqResult) {
	s.pingID = ""
	if !s.pinging() {
		return
	}
	switch {
	case r.ok:
	case r.cond == condStreamLost:
		return // evStreamLost ends the call
	case peerGoneConds[r.cond]:
		s.log.Info("peer did not answer the session ping; ending call", "cond", r.cond, "app", r.app)
		s.peerGone(r.app != appUnknownSession)
		return
	case !s.pingRefused:
		s.pingRefused = true
		s.log.Debug("peer refused the session ping; the call goes on", "cond", r.cond, "app", r.app)
	}
	s.schedulePing()
}

// onPeerOffline ends a pending or active session whose peer went offline.
func (s *session) onPeerOffline(from jid.JID) {
	if b := s.branch(from); b != nil && s.forking() {
		s.log.Info("device of the fork went offline", "device", from.Resourcepart())
		s.dropBranch(b, gateway.Reason{Condition: gateway.CondGone, Code: 480}, false)
		return
	}
	if !s.pinging() {
		return
	}
	s.log.Info("peer went offline; ending call")
	s.peerGone(true)
}

// peerGone ends the session of a peer that vanished: connectivity-error
// toward the gateway (as when our own stream is lost) and, with terminate,
// a session-terminate to the peer, fire and forget.
func (s *session) peerGone(terminate bool) {
	if terminate {
		s.sendTerminate(gateway.ReasonDisconnected)
	}
	s.hangupCall(gateway.ReasonDisconnected)
	s.setState(stEnded)
}

// stopPings cancels the next ping and forgets the one in flight.
func (s *session) stopPings() {
	s.pingGen++
	if s.pingTimer != nil {
		s.pingTimer.Stop()
	}
	if s.pingID != "" {
		s.st.iqs.forget(s.pingID)
		s.pingID = ""
	}
}
