package xmpp

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// sessState is where a Jingle session (or the JMI proposal before it) is.
type sessState int32

const (
	stIdle      sessState = iota // outgoing: leg created, waiting for the offer
	stProposing                  // outgoing: propose sent, waiting for proceed
	stProposed                   // incoming: proceed sent, waiting for session-initiate
	stPending                    // session-initiate exchanged, waiting for session-accept
	stActive                     // session-accept exchanged
	stEnded
)

var stateNames = [...]string{"idle", "proposing", "proposed", "pending", "active", "ended"}

func (s sessState) String() string { return stateNames[s] }

// session is one Jingle session and its JMI proposal, bridged to one call.
// One goroutine (run) owns every field below the line; the stanza handler
// only reads the atomic state snapshot and posts events.
type session struct {
	a     *Adapter
	st    *stream
	key   sessKey
	role  jingle.Role  // our role
	local jid.JID      // our address in this session
	log   *slog.Logger // only used (and extended) on the session's goroutine
	state atomic.Int32
	inbox chan any
	done  chan struct{}
	leg   *leg
	peerState

	// ---- owned by run ----
	peer      jid.JID // bare until a device proceeds (outgoing), then full
	target    string  // incoming: the router target
	targetErr error   // incoming: why the target cannot be called
	nick      string  // outgoing: the caller's name for the propose
	jmi       bool
	branches  []*branch // outgoing: direct session-initiates of a fork (fork.go)
	jmiMaybe  bool      // outgoing: a device may still answer the JMI propose
	mids      *jingle.MidTable
	origin    sdp.Origin
	call      *gateway.Call
	offer     *jingle.Jingle          // outgoing: contents of our session-initiate
	lastSent  *sdp.SessionDescription // the last SDP we sent as Jingle
	held      []gateway.Candidate     // candidates until the initiate (or a restart) is acked
	initAcked bool
	rang      bool
	timer     *time.Timer
	timerGen  int

	// renegotiation (reneg.go)
	lastRecv    *sdp.SessionDescription // the last SDP built from the peer's Jingle that the bridge has
	peerSDP     *sdp.SessionDescription // the peer's current SDP: its media, ICE credentials, candidates
	peerBase    []string                // per m-line: the direction the peer wants (its view), hold aside
	peerHeld    bool                    // the peer holds (session-info <hold/>)
	wantsSent   []string                // per m-line: the peer's wants as the bridge last heard them
	senders     []jingle.Senders        // per m-line: the senders in force
	peerSetup   string                  // the peer's DTLS role (active or passive)
	remoteHeld  bool                    // we told the peer <hold/>
	rn          reneg                   // the exchange in flight
	rnGen       int
	rnTimer     *time.Timer
	prevSent    *sdp.SessionDescription // lastSent before a bridge re-offer in flight
	holdCands   bool                    // hold the other leg's candidates: restart not yet acked
	expectGlare int                     // crossed re-offers of ours the bridge will refuse
	syncBlocked string                  // a refused re-offer of ours (syncSig)
	future      []gateway.Candidate     // the other leg's candidates of an unknown ICE generation

	pinger // session ping (ping.go)
}

// Session events.
type (
	evJingle struct { // an acknowledged Jingle IQ from the peer
		j    *jingle.Jingle
		from jid.JID
	}
	evJMI struct {
		from jid.JID
		el   *jmiIn
	}
	evMsgError struct{ cond string }
	evBridge   struct{ ev gateway.Event }
	evIQ       struct {
		action jingle.Action
		res    iqResult
	}
	evTimer struct {
		gen  int
		kind string
	}
	evStreamLost struct{}
)

func (a *Adapter) newSession(st *stream, sid string, role jingle.Role, local, peer jid.JID) *session {
	s := &session{a: a, st: st, key: keyOf(sid, peer), role: role, local: local, peer: peer,
		inbox: make(chan any, sessionInbox), done: make(chan struct{}), mids: jingle.NewMidTable(),
		origin: newOrigin()}
	s.leg = &leg{s: s}
	s.peerBare = peer.Bare()
	s.log = a.log.With("sid", clip(sid), "peer", peer.Bare().String(), "role", role.String())
	return s
}

func newOrigin() sdp.Origin {
	return sdp.Origin{Username: "-", SessionID: rand.Uint64() >> 2, SessionVersion: 1,
		NetworkType: "IN", AddressType: "IP4", UnicastAddress: "127.0.0.1"}
}

func (s *session) sid() string { return s.key.sid }

func (s *session) getState() sessState { return sessState(s.state.Load()) }

func (s *session) setState(x sessState) {
	s.log.Debug("session state", "from", s.getState().String(), "to", x.String())
	s.state.Store(int32(x))
}

// start registers the session and runs its goroutine.
func (s *session) start() error {
	if err := s.a.addSession(s); err != nil {
		return err
	}
	go s.run()
	return nil
}

// post hands an event to the session without blocking. It reports false if
// the session is over or its queue is full.
func (s *session) post(ev any) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.inbox <- ev:
		return true
	default:
		// s.log belongs to the session's goroutine; post runs elsewhere.
		s.a.log.Warn("session queue full; event dropped", "sid", clip(s.sid()), "event", fmt.Sprintf("%T", ev))
		return false
	}
}

func (s *session) run() {
	defer s.finish()
	defer s.recoverPanic()
	for s.getState() != stEnded {
		s.handle(<-s.inbox)
	}
}

func (s *session) recoverPanic() {
	if r := recover(); r != nil {
		s.a.metrics.Panic()
		s.log.Error("session panicked; ending it", "panic", fmt.Sprint(r))
		s.end(gateway.ReasonInternal, true)
	}
}

func (s *session) finish() {
	s.stopTimer()
	s.stopPings()
	if s.rnTimer != nil {
		s.rnTimer.Stop()
	}
	s.state.Store(int32(stEnded))
	close(s.done)
	s.a.removeSession(s)
}

func (s *session) handle(ev any) {
	switch e := ev.(type) {
	case evJingle:
		if s.forking() {
			s.onBranchJingle(e.from, e.j)
		} else {
			s.onJingle(e.j)
		}
	case evBranchIQ:
		s.onBranchIQ(e.to, e.res)
	case evDeviceKnown:
		s.onDeviceKnown(e.dev)
	case evJMI:
		s.onJMI(e.from, e.el)
	case evMsgError:
		s.onMessageError(e.cond)
	case evBridge:
		s.onBridge(e.ev)
	case evIQ:
		s.onIQResult(e.action, e.res)
	case evProposed:
		s.onProposed()
	case evTimer:
		if e.gen == s.timerGen || e.kind == timerRinging {
			s.onTimer(e.kind)
		}
	case evRenegTimer:
		if e.gen == s.rnGen {
			s.onRenegTimer()
		}
	case evRenegIQ:
		if e.gen == s.rnGen {
			s.onRenegIQ(e.res)
		}
	case evSyncTimer:
		s.sync()
	case evPingTimer:
		if e.gen == s.pingGen {
			s.onPingTimer()
		}
	case evPingIQ:
		if e.gen == s.pingGen {
			s.onPingResult(e.res)
		}
	case evPeerOffline:
		s.onPeerOffline(e.from)
	case evStreamLost:
		s.log.Info("stream lost; ending call")
		s.hangupCall(gateway.ReasonDisconnected)
		s.setState(stEnded)
	}
}

// arm (re)starts the session's single timer.
func (s *session) arm(d time.Duration, kind string) {
	s.stopTimer()
	gen := s.timerGen
	s.timer = time.AfterFunc(d, func() { s.post(evTimer{gen: gen, kind: kind}) })
}

func (s *session) stopTimer() {
	s.timerGen++
	if s.timer != nil {
		s.timer.Stop()
	}
}
