package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
	"github.com/sigbridge/sigbridge/sip/rtpengine"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

// anchoredRoute is loopbackRoute with media through rtpengine.
func anchoredRoute() Route {
	r := loopbackRoute()
	r.Name, r.Media = "plain", MediaRTPEngine
	return r
}

// newAnchorEnv is a gateway with the ws and SIP adapters whose SIP side
// anchors media in a real rtpengine (started here unless r is given).
func newAnchorEnv(t *testing.T, r *rtpenginetest.Rtpengine, cfg Config) (*wsEnv, *rtpenginetest.Rtpengine) {
	t.Helper()
	if r == nil {
		r = rtpenginetest.Start(t)
	}
	return newAnchorEnvNG(t, cfg, r.NG), r
}

// newAnchorEnvNG is newAnchorEnv with the rtpengine instances ng (in order
// of preference); a zero cfg.RTPEngine.SweepInterval means no sweep.
func newAnchorEnvNG(t *testing.T, cfg Config, ng ...string) *wsEnv {
	t.Helper()
	if len(cfg.Routes) == 0 {
		cfg.Routes = []Route{anchoredRoute()}
	}
	cfg.TrustedSources = []string{"127.0.0.1"}
	sweep := cfg.RTPEngine.SweepInterval
	if sweep == 0 {
		sweep = time.Hour
	}
	cfg.RTPEngine = RTPEngineConfig{NG: ng, Timeout: 400 * time.Millisecond,
		PingInterval: 200 * time.Millisecond, SweepInterval: sweep, InjectDTMF: cfg.RTPEngine.InjectDTMF}
	return newWSEnv(t, cfg)
}

func newPlainUA(t *testing.T, user string) *siptest.PlainUA {
	t.Helper()
	ua, err := siptest.NewPlainUA(user, testLogger(t).With("peer", "plain"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return ua
}

// ourSessions lists the rtpengine sessions of the adapter's anchors.
func ourSessions(ctx context.Context, t *testing.T, a *Adapter) []string {
	t.Helper()
	lists, err := a.anchors.rtp.List(ctx, 1000)
	if err != nil {
		t.Fatalf("rtpengine list: %v", err)
	}
	var out []string
	for _, ids := range lists {
		for _, id := range ids {
			if strings.HasPrefix(id, a.anchors.prefix) {
				out = append(out, id)
			}
		}
	}
	return out
}

// waitNoSessions waits until rtpengine holds no session of ours.
func waitNoSessions(ctx context.Context, t *testing.T, a *Adapter) {
	t.Helper()
	for {
		left := ourSessions(ctx, t, a)
		if len(left) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rtpengine still holds %v", left)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// packetsFlow waits until both ends received at least n more packets than
// they had.
func packetsFlow(ctx context.Context, t *testing.T, what string, b *audioBrowser, c *siptest.PlainCall, n int64) {
	t.Helper()
	b0, c0 := b.received.Load(), c.Received()
	for b.received.Load()-b0 < n || c.Received()-c0 < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: browser received %d, SIP phone %d packets (want %d more each)",
				what, b.received.Load()-b0, c.Received()-c0, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("%s: browser received %d, SIP phone %d packets", what, b.received.Load(), c.Received())
}

func incoming(ctx context.Context, t *testing.T, ua *siptest.PlainUA) *siptest.PlainCall {
	t.Helper()
	select {
	case c := <-ua.Incoming:
		return c
	case <-ctx.Done():
		t.Fatal("no call reached the plain SIP phone")
		return nil
	}
}

func lastOffer(t *testing.T, offers []string) string {
	t.Helper()
	if len(offers) == 0 {
		t.Fatal("no offer")
	}
	return offers[len(offers)-1]
}

// TestAnchorBrowserCallsPlainSIP: a browser-dialect client calls a
// plain-RTP phone on a route with media: rtpengine. The phone gets RTP/AVP
// without ICE, the browser ICE and DTLS-SRTP; audio flows both ways; hold
// and resume from either side go through rtpengine; the phone's BYE ends
// the call and rtpengine's session.
func TestAnchorBrowserCallsPlainSIP(t *testing.T) {
	env, _ := newAnchorEnv(t, nil, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ua := newPlainUA(t, "desk")
	b := env.audioBrowser(ctx, t, "alice")
	start := time.Now()
	if err := b.call(ua.URI()); err != nil {
		t.Fatal(err)
	}
	c := incoming(ctx, t, ua)
	offer := lastOffer(t, c.Offers())
	for _, bad := range []string{"a=ice-ufrag", "a=fingerprint", "SAVPF", "a=candidate"} {
		if strings.Contains(offer, bad) {
			t.Errorf("the phone's offer has %q:\n%s", bad, offer)
		}
	}
	b.connected(ctx, t)
	packetsFlow(ctx, t, "first packets", b, c, 1)
	t.Logf("time to media both ways (video-offer to a packet at each end): %v", time.Since(start))
	packetsFlow(ctx, t, "answered", b, c, 25)
	if v := testutil.ToFloat64(env.a.anchors.m.AnchoredCalls); v != 1 {
		t.Errorf("anchored calls gauge %v, want 1", v)
	}

	// Hold and resume from the browser: re-offers through rtpengine.
	if _, err := b.reoffer(ctx, "sendonly"); err != nil {
		t.Fatal(err)
	}
	if o := lastOffer(t, c.Offers()); !strings.Contains(o, "a=sendonly") || !strings.Contains(o, "RTP/AVP") {
		t.Fatalf("browser hold reached the phone as:\n%s", o)
	}
	if _, err := b.reoffer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if o := lastOffer(t, c.Offers()); strings.Contains(o, "a=sendonly") || strings.Contains(o, "a=inactive") {
		t.Fatalf("browser resume reached the phone as:\n%s", o)
	}
	packetsFlow(ctx, t, "resumed by the browser", b, c, 25)

	// Hold and resume from the phone.
	before := len(b.offersReceived())
	if err := c.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	offers := b.offersReceived()
	if len(offers) != before+1 || !strings.Contains(offers[len(offers)-1], "a=sendonly") ||
		!strings.Contains(offers[len(offers)-1], "UDP/TLS/RTP/SAVPF") {
		t.Fatalf("phone hold reached the browser as %d offers, last:\n%s", len(offers)-before, lastOffer(t, offers))
	}
	if err := c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	packetsFlow(ctx, t, "resumed by the phone", b, c, 25)

	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	b.hangup(ctx, t)
	waitNoSessions(ctx, t, env.a)
	for testutil.ToFloat64(env.a.anchors.m.AnchoredCalls) != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("anchored calls gauge stays at %v", testutil.ToFloat64(env.a.anchors.m.AnchoredCalls))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAnchorPlainSIPCallsBrowser: a plain-RTP phone calls a browser user;
// the offer is anchored instead of refused; audio flows both ways; the
// browser's hang-up BYEs the phone and deletes the session.
func TestAnchorPlainSIPCallsBrowser(t *testing.T) {
	env, _ := newAnchorEnv(t, nil, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := env.audioBrowser(ctx, t, "bob")
	ua := newPlainUA(t, "desk")
	c, err := ua.Dial(ctx, "sip:bob@"+env.a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	offer := lastOffer(t, b.offersReceived())
	for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=ice-ufrag", "a=fingerprint", "a=candidate", "a=rtcp-mux"} {
		if !strings.Contains(offer, want) {
			t.Errorf("the browser's offer lacks %q:\n%s", want, offer)
		}
	}
	b.connected(ctx, t)
	packetsFlow(ctx, t, "answered", b, c, 25)
	if err := b.hangUp(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Ended:
	case <-ctx.Done():
		t.Fatal("the phone got no BYE")
	}
	waitNoSessions(ctx, t, env.a)
}

// TestAnchorVanishedPhone: a phone that disappears without BYE is found by
// the dialog probe; the call ends on the browser and rtpengine's session
// is deleted.
func TestAnchorVanishedPhone(t *testing.T) {
	env, _ := newAnchorEnv(t, nil, Config{DialogProbeInterval: 300 * time.Millisecond, DialogProbeTimeout: 700 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ua := newPlainUA(t, "desk")
	b := env.audioBrowser(ctx, t, "alice")
	if err := b.call(ua.URI()); err != nil {
		t.Fatal(err)
	}
	c := incoming(ctx, t, ua)
	b.connected(ctx, t)
	packetsFlow(ctx, t, "answered", b, c, 10)
	if n := len(ourSessions(ctx, t, env.a)); n != 1 {
		t.Fatalf("rtpengine holds %d sessions of ours during the call, want 1", n)
	}
	ua.Vanish()
	b.hangup(ctx, t)
	waitNoSessions(ctx, t, env.a)
}

// TestAnchorRtpengineDown: with rtpengine gone, calls that need it fail
// with 503 and a clear reason both ways; a call on a direct route still
// works.
func TestAnchorRtpengineDown(t *testing.T) {
	direct := loopbackRoute()
	direct.Name, direct.Match = "direct", `^sip:webrtc@127\.0\.0\.1:[0-9]+$`
	plain := anchoredRoute()
	plain.Match = `^sip:desk@127\.0\.0\.1:[0-9]+$`
	env, r := newAnchorEnv(t, nil, Config{Routes: []Route{direct, plain}})
	r.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ua := newPlainUA(t, "desk")
	b := env.audioBrowser(ctx, t, "bob")
	_, err := ua.Dial(ctx, "sip:bob@"+env.a.Addr())
	var ref *siptest.RefusedError
	if !errors.As(err, &ref) || ref.Code != 503 || !strings.Contains(ref.Warning, "media relay unavailable") {
		t.Fatalf("plain call in with rtpengine down: %v, want 503 with a Warning", err)
	}

	if err := b.call(ua.URI()); err != nil {
		t.Fatal(err)
	}
	m := b.hangup(ctx, t)
	t.Logf("browser's call to the plain phone ended with %v", m)
	if !strings.Contains(strings.ToLower(m.Str("reason")+" "+m.Str("text")+" "+m.Str("message")), "connectivity") &&
		m.Int("code") != 503 {
		t.Errorf("hang-up %v does not say 503/connectivity-error", m)
	}
	select {
	case <-ua.Incoming:
		t.Fatal("the plain phone was called although rtpengine is down")
	default:
	}

	// A direct route does not need rtpengine.
	ep := newEndpoint(t, "webrtc")
	w := env.browser(ctx, t, "carol")
	if err := w.Call(ctx, ep.URI()); err != nil {
		t.Fatal(err)
	}
	select {
	case call := <-ep.Incoming:
		exchange(ctx, t, w, call.Peer)
	case <-ctx.Done():
		t.Fatal("the direct call did not reach the WebRTC endpoint")
	}
}

// TestAnchorOffWithoutRTPEngine: with no rtpengine configured a plain-RTP
// offer is refused with 488, as before anchoring existed.
func TestAnchorOffWithoutRTPEngine(t *testing.T) {
	env := newWSEnv(t, Config{TrustedSources: []string{"127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	env.audioBrowser(ctx, t, "bob")
	_, err := newPlainUA(t, "desk").Dial(ctx, "sip:bob@"+env.a.Addr())
	var ref *siptest.RefusedError
	if !errors.As(err, &ref) || ref.Code != 488 {
		t.Fatalf("plain call without rtpengine: %v, want 488", err)
	}
}

// TestAnchorRouteNeedsRTPEngine: media: rtpengine without an ng address is
// a configuration error, and so is an unknown media mode.
func TestAnchorRouteNeedsRTPEngine(t *testing.T) {
	if _, err := New(Config{Listen: "127.0.0.1:0", Routes: []Route{anchoredRoute()}}, nil, nil, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("media: rtpengine without rtpengine.ng: %v, want ErrConfig", err)
	}
	r := loopbackRoute()
	r.Media = "relay"
	if _, err := New(Config{Listen: "127.0.0.1:0", Routes: []Route{r}}, nil, nil, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("media: relay: %v, want ErrConfig", err)
	}
}

// TestAnchorSweep: the sweep deletes sessions with this process's prefix
// that no live leg owns, and leaves other sessions (another gateway's, or
// Kamailio's on a shared rtpengine) alone.
func TestAnchorSweep(t *testing.T) {
	env, _ := newAnchorEnv(t, nil, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rtp := env.a.anchors.rtp
	orphan, foreign := env.a.anchors.prefix+"orphan", "kamailio-call"
	offer := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
	owned := env.a.anchors.newAnchor()
	for _, id := range []string{orphan, foreign, owned.callID} {
		if _, err := rtp.Offer(ctx, id, "a", "", offer, rtpengine.ToPlain()); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.a.anchors.sweep(ctx, env.a.log); n != 1 {
		t.Fatalf("sweep deleted %d sessions, want 1", n)
	}
	lists, _ := rtp.List(ctx, 100)
	var all []string
	for _, ids := range lists {
		all = append(all, ids...)
	}
	got := strings.Join(all, " ")
	if strings.Contains(got, orphan) || !strings.Contains(got, foreign) || !strings.Contains(got, owned.callID) {
		t.Fatalf("after the sweep rtpengine holds %q", got)
	}
	owned.close(env.a.log)
	if err := rtp.Delete(ctx, foreign); err != nil {
		t.Fatal(err)
	}
}

// TestAnchorDTMFPlayed: with rtpengine.inject_dtmf a browser's dtmf
// message on an anchored call is played in-band by rtpengine and reaches
// the phone as RFC 4733 telephone-event packets (the phone negotiated
// telephone-event/8000; it gets no INFO).
func TestAnchorDTMFPlayed(t *testing.T) {
	env, _ := newAnchorEnv(t, nil, Config{RTPEngine: RTPEngineConfig{InjectDTMF: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ua := newPlainUA(t, "desk")
	b := env.audioBrowser(ctx, t, "alice")
	if err := b.call(ua.URI()); err != nil {
		t.Fatal(err)
	}
	c := incoming(ctx, t, ua)
	b.connected(ctx, t)
	packetsFlow(ctx, t, "answered", b, c, 10)
	if err := b.sendDTMF("5"); err != nil {
		t.Fatal(err)
	}
	for c.Events() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no telephone-event packet reached the phone")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if d := c.LastEvent(); d != 5 {
		t.Errorf("telephone-event code %d, want 5", d)
	}
}

// TestAnchorCancelAndShutdown: a call the caller abandons while the phone
// rings (CANCEL; a ring timeout takes the same path) and a call that the
// adapter's shutdown ends (BYE) both leave no rtpengine session.
func TestAnchorCancelAndShutdown(t *testing.T) {
	env, r := newAnchorEnv(t, nil, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ringer := newPlainUA(t, "ringer")
	ringer.NoAnswer.Store(true)
	b := env.audioBrowser(ctx, t, "alice")
	if err := b.call(ringer.URI()); err != nil {
		t.Fatal(err)
	}
	var rc *siptest.PlainCall
	select {
	case rc = <-ringer.Ringing:
	case <-ctx.Done():
		t.Fatal("the phone did not ring")
	}
	if n := len(ourSessions(ctx, t, env.a)); n != 1 {
		t.Fatalf("rtpengine holds %d sessions of ours while ringing, want 1", n)
	}
	if err := b.hangUp(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rc.Ended:
	case <-ctx.Done():
		t.Fatal("the ringing phone got no CANCEL")
	}
	waitNoSessions(ctx, t, env.a)

	ua := newPlainUA(t, "desk")
	d := env.audioBrowser(ctx, t, "dave")
	if err := d.call(ua.URI()); err != nil {
		t.Fatal(err)
	}
	c := incoming(ctx, t, ua)
	d.connected(ctx, t)
	packetsFlow(ctx, t, "answered", d, c, 10)
	if err := env.a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Ended:
	case <-ctx.Done():
		t.Fatal("the phone got no BYE at shutdown")
	}
	rtp, err := rtpengine.New(rtpengine.Config{NG: []string{r.NG}})
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	lists, err := rtp.List(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(lists[r.NG]) != 0 {
		t.Fatalf("rtpengine holds %v after shutdown", lists[r.NG])
	}
}
