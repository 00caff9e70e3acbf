package sip

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
	"github.com/sigbridge/sigbridge/sip/rtpengine"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

// sessionsAt is the rtpengine sessions of the adapter's anchors by ng
// address (the instances that answer).
func sessionsAt(ctx context.Context, t *testing.T, a *Adapter) map[string][]string {
	t.Helper()
	lists, err := a.anchors.rtp.List(ctx, 1000)
	if err != nil {
		t.Logf("rtpengine list: %v", err)
	}
	out := map[string][]string{}
	for addr, ids := range lists {
		for _, id := range ids {
			if strings.HasPrefix(id, a.anchors.prefix) {
				out[addr] = append(out[addr], id)
			}
		}
	}
	return out
}

// upGauge is sigbridge_rtpengine_up of the instance ng.
func upGauge(a *Adapter, ng string) float64 {
	return testutil.ToFloat64(a.anchors.m.Up.WithLabelValues(ng))
}

// waitUp waits until the adapter's health pings call the instance ng up
// (want 1) or down (want 0).
func waitUp(ctx context.Context, t *testing.T, a *Adapter, ng string, want float64) {
	t.Helper()
	for upGauge(a, ng) != want {
		select {
		case <-ctx.Done():
			t.Fatalf("sigbridge_rtpengine_up{instance=%q} stays %v, want %v", ng, upGauge(a, ng), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// anchoredCall is a browser call to the plain phone ua with audio both
// ways; it returns the browser, the phone's side and the one session the
// call added, with the instance that holds it.
func anchoredCall(ctx context.Context, t *testing.T, env *wsEnv, ua *siptest.PlainUA, user string) (*audioBrowser, *siptest.PlainCall, string, string) {
	t.Helper()
	before := sessionsAt(ctx, t, env.a)
	b := env.audioBrowser(ctx, t, user)
	if err := b.call(ua.URI()); err != nil {
		t.Fatal(err)
	}
	c := incoming(ctx, t, ua)
	b.connected(ctx, t)
	packetsFlow(ctx, t, user+" answered", b, c, 25)
	var addr, id string
	for a, ids := range sessionsAt(ctx, t, env.a) {
		for _, s := range ids {
			if !slices.Contains(before[a], s) {
				if id != "" {
					t.Fatalf("the call added sessions %s at %s and %s at %s", id, addr, s, a)
				}
				addr, id = a, s
			}
		}
	}
	if id == "" {
		t.Fatal("the call added no rtpengine session")
	}
	return b, c, addr, id
}

// TestAnchorFailover: two rtpengine instances. A new call goes to the
// first healthy one; with the first killed, new calls go to the second
// and work (the first call's delete fails and is left to the sweep); when
// the first comes back it takes new calls again, while the call the second
// holds keeps every later command (hold and resume re-offers, answers,
// delete) there.
func TestAnchorFailover(t *testing.T) {
	r1, r2 := rtpenginetest.Start(t), rtpenginetest.Start(t)
	env := newAnchorEnvNG(t, Config{}, r1.NG, r2.NG)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitUp(ctx, t, env.a, r1.NG, 1)
	waitUp(ctx, t, env.a, r2.NG, 1)
	ua := newPlainUA(t, "desk")

	b1, c1, at, _ := anchoredCall(ctx, t, env, ua, "alice")
	if at != r1.NG {
		t.Fatalf("the first call went to %s, want the first instance %s", at, r1.NG)
	}

	// The first instance dies: a new call goes to the second one at once
	// (its offer times out at the first, which is then marked down).
	r1.Kill()
	b2, c2, at, id2 := anchoredCall(ctx, t, env, ua, "carol")
	if at != r2.NG {
		t.Fatalf("the call after the kill went to %s, want %s", at, r2.NG)
	}
	waitUp(ctx, t, env.a, r1.NG, 0)
	if v := upGauge(env.a, r2.NG); v != 1 {
		t.Errorf("sigbridge_rtpengine_up of the live instance is %v", v)
	}
	// The first call lost its relay; hanging it up still ends both legs.
	if err := c1.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	b1.hangup(ctx, t)

	// The first instance comes back and is preferred for new calls again;
	// the second call's re-offers and answers must stay where its session is.
	r1.Restart(t)
	waitUp(ctx, t, env.a, r1.NG, 1)
	if _, err := b2.reoffer(ctx, "sendonly"); err != nil {
		t.Fatal(err)
	}
	if o := lastOffer(t, c2.Offers()); !strings.Contains(o, "a=sendonly") {
		t.Fatalf("hold reached the phone as:\n%s", o)
	}
	if _, err := b2.reoffer(ctx, ""); err != nil {
		t.Fatal(err)
	}
	packetsFlow(ctx, t, "carol resumed", b2, c2, 25)
	if ids := sessionsAt(ctx, t, env.a); slices.Contains(ids[r1.NG], id2) || !slices.Contains(ids[r2.NG], id2) {
		t.Fatalf("after hold and resume the sessions are %v; want %s at %s only", ids, id2, r2.NG)
	}

	_, c3, at, _ := anchoredCall(ctx, t, env, ua, "dave")
	if at != r1.NG {
		t.Fatalf("a call after the first instance came back went to %s, want %s", at, r1.NG)
	}
	for _, c := range []*siptest.PlainCall{c2, c3} {
		if err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitNoSessions(ctx, t, env.a)
}

// TestAnchorSweepTicker: with a short sweep_interval the adapter's own
// ticker (nobody calls sweep) deletes a session that carries this
// gateway's call-id prefix and belongs to no call, and leaves a session of
// another program alone.
func TestAnchorSweepTicker(t *testing.T) {
	r := rtpenginetest.Start(t)
	env := newAnchorEnvNG(t, Config{RTPEngine: RTPEngineConfig{SweepInterval: 200 * time.Millisecond}}, r.NG)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rtp := env.a.anchors.rtp
	orphan, foreign := env.a.anchors.prefix+"lost-delete", "other-program-call"
	offer := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
	for _, id := range []string{orphan, foreign} {
		if _, err := rtp.Offer(ctx, id, "a", "", offer, rtpengine.ToPlain()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = rtp.Delete(context.Background(), foreign) })
	for {
		lists, err := rtp.List(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		all := lists[r.NG]
		if !slices.Contains(all, foreign) {
			t.Fatalf("the sweep deleted another program's session: %v", all)
		}
		if !slices.Contains(all, orphan) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the sweep ticker left %s (sessions %v)", orphan, all)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
