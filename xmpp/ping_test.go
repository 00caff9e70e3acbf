package xmpp

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"gopkg.in/yaml.v3"
)

// Session pings and presence against a fake server that plays the Jingle
// peer romeo@example.org/x: it calls the browser user alice through
// alice@gw.test and answers the adapter's IQs as each test wants.

const fakePeer = "romeo@example.org/x"

// startPingEnv runs an adapter with the given ping timers against a fake
// server, with browser users behind the gateway.
func startPingEnv(t *testing.T, interval, timeout time.Duration) (*fakeServer, *Adapter, *browserDir) {
	dir := newBrowserDir(t)
	router := gateway.NewRouter()
	router.Handle(gateway.SchemeUser, dir)
	s, a := startFakeAdapterWith(t, router, func(c *Config) {
		c.SessionPingInterval, c.SessionPingTimeout = interval, timeout
		c.IQTimeout, c.MaxStanzaBytes = 10*time.Second, 0
	})
	return s, a, dir
}

// fakeCall has the fake peer call alice (session-initiate without JMI,
// with a pion offer) and waits until the adapter sent session-accept. It
// returns the sid and alice's leg.
func fakeCall(t *testing.T, s *fakeServer, dir *browserDir) (string, *browserLeg) {
	t.Helper()
	sid, leg := fakeInitiate(t, s, dir)
	s.waitCount(isAction(jingle.ActionSessionAccept), 1)
	return sid, leg
}

// fakeInitiate is fakeCall up to alice's leg ringing: it does not wait for
// the answer, which a session that ends while pending never sends.
func fakeInitiate(t *testing.T, s *fakeServer, dir *browserDir) (string, *browserLeg) {
	t.Helper()
	p, err := xmpptest.NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	offer, err := p.Offer()
	if err != nil {
		t.Fatal(err)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		t.Fatal(err)
	}
	j, err := jingle.SDPToJingle(&sd, jingle.Initiator, jingle.SDPToJingleOptions{Mids: jingle.NewMidTable()})
	if err != nil {
		t.Fatal(err)
	}
	sid := newID()
	j.Action, j.SID, j.Initiator = jingle.ActionSessionInitiate, sid, fakePeer
	b, err := xml.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	s.write(`<iq type='set' id='init-` + sid + `' from='` + fakePeer + `' to='alice@gw.test'>` + string(b) + `</iq>`)
	if r := s.expect("init-" + sid); r.Type != "result" {
		t.Fatalf("session-initiate answered %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg, err := dir.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sid, leg
}

// isPing matches a session ping (an empty session-info).
func isPing(r reply) bool { return r.Action == string(jingle.ActionSessionInfo) && r.Info == "" }

func isAction(a jingle.Action) func(reply) bool {
	return func(r reply) bool { return r.Action == string(a) && r.Type == "set" }
}

// sync makes a round trip through the adapter's reading goroutine: what the
// server wrote before was handled, what the adapter wrote before was read.
func (s *fakeServer) sync() {
	s.t.Helper()
	id := "sync-" + newID()
	s.write(`<iq type='get' id='` + id + `' from='` + fakePeer + `' to='alice@gw.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if r := s.expect(id); r.Type != "result" {
		s.t.Fatalf("sync: %+v", r)
	}
}

// assertCallUp checks that the call is still in the session table and
// the browser leg was not hung up.
func assertCallUp(t *testing.T, a *Adapter, leg *browserLeg) {
	t.Helper()
	if n := a.Sessions(); n != 1 {
		t.Errorf("%d sessions, want the call's", n)
	}
	select {
	case r := <-leg.hangups:
		t.Fatalf("browser leg hung up: %+v", r)
	default:
	}
}

// The answer to a session ping decides: a result or an error of a peer
// that is there (feature-not-implemented, bad-request) keeps the call; an
// error saying the peer or its session is gone, or no answer, ends it with
// connectivity-error, and the peer gets session-terminate unless it said
// the session is unknown. One ping at a time: a ping without answer is
// never followed by another.
func TestSessionPingOutcomes(t *testing.T) {
	fail := func(cond, app string) func(reply) string {
		return func(r reply) string { return errorTo(r, cond, app) }
	}
	for _, tt := range []struct {
		name      string
		ping      func(reply) string
		ends      bool
		terminate bool
	}{
		{"result", resultTo, false, false},
		{"feature-not-implemented", fail("feature-not-implemented", "unsupported-info"), false, false},
		{"bad-request", fail("bad-request", ""), false, false},
		{"item-not-found", fail("item-not-found", ""), true, true},
		{"unknown-session", fail("item-not-found", "unknown-session"), true, false},
		{"service-unavailable", fail("service-unavailable", ""), true, true},
		{"remote-server-timeout", fail("remote-server-timeout", ""), true, true},
		{"no answer", func(reply) string { return "" }, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// An answered ping must never time out, even on a loaded box;
			// only the unanswered one needs its timeout to expire.
			timeout := 10 * time.Second
			if tt.name == "no answer" {
				timeout = 500 * time.Millisecond
			}
			s, a, dir := startPingEnv(t, 50*time.Millisecond, timeout)
			s.setAnswer(func(r reply) string {
				if isPing(r) {
					return tt.ping(r)
				}
				return resultTo(r)
			})
			if tt.ends {
				// The first ping may go out while alice's leg rings: a
				// pending session is pinged too, and ends unanswered.
				_, leg := fakeInitiate(t, s, dir)
				assertPingEnds(t, s, a, leg, tt.terminate)
				return
			}
			_, leg := fakeCall(t, s, dir)
			s.waitCount(isPing, 3)
			assertCallUp(t, a, leg)
			leg.hangup()
			s.waitCount(isAction(jingle.ActionSessionTerminate), 1)
			waitNoSessions(t, a)
		})
	}
}

// assertPingEnds checks a call that a failed first ping ended: the browser
// leg got connectivity-error, the session is gone, one ping was sent, and
// the peer got session-terminate connectivity-error if terminate.
func assertPingEnds(t *testing.T, s *fakeServer, a *Adapter, leg *browserLeg, terminate bool) {
	t.Helper()
	if r := leg.waitHangup(t, 10*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, a)
	s.sync()
	if n := s.count(isPing); n != 1 {
		t.Errorf("%d pings sent, want 1 (one at a time, and the first one failed)", n)
	}
	isTerm := func(r reply) bool {
		return isAction(jingle.ActionSessionTerminate)(r) && r.To == fakePeer &&
			r.Reason == gateway.CondConnectivityError
	}
	if n := s.count(isTerm); n != map[bool]int{false: 0, true: 1}[terminate] {
		t.Errorf("%d session-terminate connectivity-error to the peer, want terminate=%v", n, terminate)
	}
}

// Pings stop with the session: the ping in flight is forgotten (no IQ left
// waiting) and no ping follows.
func TestSessionPingsStopWithTheSession(t *testing.T) {
	s, a, dir := startPingEnv(t, 20*time.Millisecond, time.Minute)
	s.setAnswer(func(r reply) string {
		if isPing(r) {
			return "" // keep the first ping in flight
		}
		return resultTo(r)
	})
	_, leg := fakeCall(t, s, dir)
	s.waitCount(isPing, 1)
	leg.hangup()
	s.waitCount(isAction(jingle.ActionSessionTerminate), 1)
	waitNoSessions(t, a)
	s.sync() // the terminate's result was handled
	// Other IQs of the stream (a disco#info query the peer's presence
	// prompted, answered by the fake server) may still be on their way on
	// a loaded box; the ping's would wait for its one-minute timeout.
	waitNoPendingIQs(t, a, 5*time.Second)
	time.Sleep(10 * 20 * time.Millisecond) // ten ping intervals
	s.sync()
	if n := s.count(isPing); n != 1 {
		t.Errorf("%d pings sent, want 1", n)
	}
}

// An unavailable presence from the peer's full JID ends the call at once
// (pings are off here); one from its bare JID, another resource or another
// user with the same resource does not.
func TestUnavailablePresenceEndsCall(t *testing.T) {
	s, a, dir := startPingEnv(t, -1, time.Second)
	s.setAnswer(resultTo)
	_, leg := fakeCall(t, s, dir)
	for _, from := range []string{"romeo@example.org/other", "romeo@example.org", "juliet@example.org/x"} {
		s.write(`<presence type='unavailable' from='` + from + `' to='alice@gw.test'/>`)
	}
	s.write(`<presence from='` + fakePeer + `' to='alice@gw.test'/>`) // available: nothing happens
	s.sync()
	assertCallUp(t, a, leg)

	s.write(`<presence type='unavailable' from='` + fakePeer + `' to='alice@gw.test'/>`)
	if r := leg.waitHangup(t, 10*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, a)
	s.waitCount(func(r reply) bool {
		return isAction(jingle.ActionSessionTerminate)(r) && r.Reason == gateway.CondConnectivityError
	}, 1)
	if n := s.count(isPing); n != 0 {
		t.Errorf("%d pings sent with pings disabled", n)
	}
}

// An empty session-info from the peer (its session ping) is answered with
// a result and changes nothing: the next re-offer the browser sees is the
// one of a later <hold/>. From another JID it gets unknown-session.
func TestIncomingSessionPingAnswered(t *testing.T) {
	s, a, dir := startPingEnv(t, -1, time.Second)
	s.setAnswer(resultTo)
	sid, leg := fakeCall(t, s, dir)
	info := func(id, from, payload string) string {
		return `<iq type='set' id='` + id + `' from='` + from + `' to='alice@gw.test'>` +
			`<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='` + sid + `'>` + payload + `</jingle></iq>`
	}
	s.write(info("peer-ping", fakePeer, ""))
	if r := s.expect("peer-ping"); r.Type != "result" {
		t.Errorf("session ping from the peer answered %+v, want result", r)
	}
	s.write(info("stranger-ping", "juliet@example.org/x", ""))
	if r := s.expect("stranger-ping"); r.Type != "error" || r.ErrApp != "unknown-session" {
		t.Errorf("session ping from a stranger answered %+v, want unknown-session", r)
	}
	s.write(info("odd", fakePeer, `<whatever xmlns='urn:example:odd'/>`))
	if r := s.expect("odd"); r.Type != "error" || r.ErrApp != "unsupported-info" {
		t.Errorf("unknown session-info payload answered %+v, want feature-not-implemented + unsupported-info", r)
	}
	s.write(info("hold", fakePeer, `<hold xmlns='`+jingle.NSRTPInfo+`'/>`))
	if r := s.expect("hold"); r.Type != "result" {
		t.Fatalf("hold answered %+v", r)
	}
	ctx := ctxFor(t, 10*time.Second)
	if offer := leg.nextReoffer(t, ctx); !allDirs(offer, "sendonly") {
		t.Errorf("first re-offer after the ping has directions %v, want the hold's sendonly", dirsOf(offer))
	}
	assertCallUp(t, a, leg)
}

// The ping timers come from YAML under their documented names; zero takes
// the defaults, a negative interval turns pings off.
func TestSessionPingConfig(t *testing.T) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader("session_ping_interval: 300ms\nsession_ping_timeout: 1s\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.SessionPingInterval != 300*time.Millisecond || c.SessionPingTimeout != time.Second {
		t.Errorf("decoded %v / %v", c.SessionPingInterval, c.SessionPingTimeout)
	}
	d := Config{}.withDefaults()
	if d.SessionPingInterval != DefaultSessionPingInterval || d.SessionPingTimeout != DefaultSessionPingTimeout {
		t.Errorf("defaults %v / %v", d.SessionPingInterval, d.SessionPingTimeout)
	}
	if off := (Config{SessionPingInterval: -1}).withDefaults(); off.SessionPingInterval >= 0 {
		t.Errorf("a negative interval became %v", off.SessionPingInterval)
	}
}

// size is the number of IQs waiting for an answer.
// waitNoPendingIQs waits until the stream has no IQ waiting for an answer.
func waitNoPendingIQs(t *testing.T, a *Adapter, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for a.stream().iqs.size() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d IQs still waiting for an answer %v after the session ended", a.stream().iqs.size(), within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (t *iqTracker) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}
