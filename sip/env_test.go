package sip

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/daemon"
)

// testEnv is a gateway with the SIP adapter on a free loopback port and a
// dialer for browser users that the tests script (the "users" below).
type testEnv struct {
	gw    *gateway.Gateway
	a     *Adapter
	users *testUsers
	reg   *prometheus.Registry
	gm    *gateway.Metrics
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	return newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 20 * time.Second}, cfg)
}

// newEnvGW is newEnv with a gateway configuration of the test's choosing.
func newEnvGW(t *testing.T, gwCfg gateway.Config, cfg Config) *testEnv {
	t.Helper()
	log := testLogger(t)
	reg := prometheus.NewRegistry()
	gm := gateway.NewMetrics(reg)
	router := gateway.NewRouter()
	gw := gateway.New(gwCfg, router, log, gm)
	users := &testUsers{t: t, legs: map[string]chan *testLeg{}}
	router.Handle(gateway.SchemeUser, users)
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	a, err := New(cfg, gw, log, gm, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return &testEnv{gw: gw, a: a, users: users, reg: reg, gm: gm}
}

// loopbackRoute lets calls reach SIP peers on 127.0.0.1 (tests only).
func loopbackRoute() Route {
	return Route{Name: "loopback", Match: `^sip:[^@]+@127\.0\.0\.1:[0-9]+$`, AllowPrivate: true}
}

// testLogger logs to the test at debug level when SIGBRIDGE_TEST_DEBUG is
// set, else warnings only; it goes quiet once the test ends.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	level := slog.LevelWarn
	if os.Getenv("SIGBRIDGE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

var _ io.Writer = (*testWriter)(nil)

// testLeg stands in for a browser leg: it records what the bridge delivers.
type testLeg struct {
	caps   gateway.Caps
	events chan gateway.Event
	call   *gateway.Call
	name   string
}

func newTestLeg(name string) *testLeg {
	return &testLeg{name: name, events: make(chan gateway.Event, 64)}
}

func (l *testLeg) Kind() string       { return "test" }
func (l *testLeg) Caps() gateway.Caps { return l.caps }
func (l *testLeg) Deliver(ev gateway.Event) error {
	select {
	case l.events <- ev:
	default:
	}
	return nil
}

// next waits for the next event of type T, skipping others it is told to.
func (l *testLeg) next(t *testing.T, d time.Duration) gateway.Event {
	t.Helper()
	select {
	case ev := <-l.events:
		return ev
	case <-time.After(d):
		t.Fatalf("%s: no event within %v", l.name, d)
	}
	return nil
}

// expect waits for an event named name (skipping EndOfCandidates).
func (l *testLeg) expect(t *testing.T, name string) gateway.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ev := l.next(t, time.Until(deadline))
		if ev.EventName() == name {
			return ev
		}
		if _, ok := ev.(gateway.EndOfCandidates); ok {
			continue
		}
		t.Fatalf("%s: got %s %+v, want %s", l.name, ev.EventName(), ev, name)
	}
}

// testUsers is the browser-user dialer of the tests. A user's behaviour is
// its name: "answer*" answers, "ring*" rings forever, "busy" and "decline"
// refuse, "offline" is offline, anything else does not exist.
type testUsers struct {
	t    *testing.T
	mu   sync.Mutex
	legs map[string]chan *testLeg
	// custom users answer with a leg of the test's making.
	custom map[string]func(gateway.DialRequest) gateway.Leg
}

func (u *testUsers) Dial(ctx context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	// Under a deadline from ctx, as the cluster's dialer asks another node:
	// a SIP caller's Place must pass a live context (a nil one panicked
	// there, not here, until this did the same).
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := req.Target.User
	u.mu.Lock()
	mk := u.custom[name]
	u.mu.Unlock()
	if mk != nil {
		return mk(req), nil
	}
	switch {
	case name == "offline":
		return nil, gateway.ErrOffline
	case strings.HasPrefix(name, "answer"), strings.HasPrefix(name, "ring"), strings.HasPrefix(name, "silent"),
		name == "busy", name == "decline":
	default:
		return nil, fmt.Errorf("%w: %s", gateway.ErrNotFound, name)
	}
	l := newTestLeg(name)
	l.call = req.Call
	go u.behave(l, req.From)
	u.published(name) <- l
	return l, nil
}

func (u *testUsers) published(name string) chan *testLeg {
	u.mu.Lock()
	defer u.mu.Unlock()
	ch, ok := u.legs[name]
	if !ok {
		ch = make(chan *testLeg, 16)
		u.legs[name] = ch
	}
	return ch
}

// handle makes calls to name reach legs made by mk.
func (u *testUsers) handle(name string, mk func(gateway.DialRequest) gateway.Leg) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.custom == nil {
		u.custom = map[string]func(gateway.DialRequest) gateway.Leg{}
	}
	u.custom[name] = mk
}

// leg returns the next callee leg created for name.
func (u *testUsers) leg(t *testing.T, name string) *testLeg {
	t.Helper()
	select {
	case l := <-u.published(name):
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no call reached user %s", name)
	}
	return nil
}

func (u *testUsers) behave(l *testLeg, from string) {
	var offer gateway.Offer
	select {
	case ev := <-l.events:
		o, ok := ev.(gateway.Offer)
		if !ok {
			return
		}
		offer = o
	case <-time.After(10 * time.Second):
		return
	}
	switch {
	case strings.HasPrefix(l.name, "answer"):
		_ = l.call.Post(l, gateway.Ringing{Code: 180})
		_ = l.call.Post(l, gateway.Answer{SDP: answerFor(offer.SDP)})
		u.answerReoffers(l)
	case strings.HasPrefix(l.name, "ring"):
		_ = l.call.Post(l, gateway.Ringing{Code: 180})
	case strings.HasPrefix(l.name, "silent"):
		// neither rings nor answers: the call stays in setup (admission)
	case l.name == "busy":
		_ = l.call.Post(l, gateway.Hangup{Reason: gateway.Reason{Condition: gateway.CondBusy, Code: 486}})
	case l.name == "decline":
		_ = l.call.Post(l, gateway.Hangup{Reason: gateway.Reason{Condition: gateway.CondDecline}})
	}
}

// answerReoffers answers every re-offer (ufrag brw2) until the hang-up.
func (u *testUsers) answerReoffers(l *testLeg) {
	for {
		select {
		case ev := <-l.events:
			switch ev.(type) {
			case gateway.Offer:
				_ = l.call.Post(l, gateway.Answer{SDP: mustSDP(u.t, webrtcSDP("active", "brw2", 40002))})
			case gateway.Hangup:
				l.events <- ev // for the test to see
				return
			}
		case <-time.After(30 * time.Second):
			return
		}
	}
}

// webrtcSDP is a complete WebRTC-style SDP (ICE, DTLS, one candidate).
func webrtcSDP(setup, ufrag string, port int) string {
	return strings.Join([]string{"v=0", "o=- 4242 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
		fmt.Sprintf("m=audio %d UDP/TLS/RTP/SAVPF 111", port), "c=IN IP4 127.0.0.1",
		"a=ice-ufrag:" + ufrag, "a=ice-pwd:" + ufrag + "pwdpwdpwdpwdpwdpwdpwd",
		"a=fingerprint:sha-256 3C:2E:D8:EC:35:7C:BF:01:07:A6:ED:92:3F:DA:28:66:F3:90:7A:77:D8:63:D9:FD:FD:D9:ED:74:7B:F3:3F:4A",
		"a=setup:" + setup, "a=mid:0", "a=rtcp-mux", "a=sendrecv", "a=rtpmap:111 opus/48000/2",
		fmt.Sprintf("a=candidate:1 1 udp 2130706431 127.0.0.1 %d typ host", port), "a=end-of-candidates", ""}, "\r\n")
}

func mustSDP(t testing.TB, s string) *sdp.SessionDescription {
	t.Helper()
	sd, err := gateway.ParseSDP(s)
	if err != nil {
		t.Fatalf("ParseSDP: %v", err)
	}
	return sd
}

func answerFor(_ *sdp.SessionDescription) *sdp.SessionDescription {
	sd, err := gateway.ParseSDP(webrtcSDP("active", "brws", 40000))
	if err != nil {
		panic(err)
	}
	return sd
}

// freePort returns a port free on 127.0.0.1 for UDP and TCP at the time of
// the call.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := daemon.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
