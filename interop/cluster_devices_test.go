package interop

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"mellium.im/xmpp/jid"

	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// TestClusterDevicesSurviveKill: three sigbridge processes on one
// nats-server share one Prosody's component. A Jingle client without JMI
// (StanzaJS-like: caps without urn:xmpp:jingle-message:0) sends directed
// presence to a gateway JID once, from two devices; the component's node
// mirrors them into the cluster's state store. The node is killed
// (SIGKILL) and one device goes offline while nobody holds the component.
// Once another node holds it, a browser user on the third node calls the
// client's bare JID without the client sending presence again: the call
// forks to both devices by direct session-initiate, the stale one's
// branch fails, the live device answers, and pion media flows both ways.
// A second user who subscribed to a gateway JID (and approved its
// subscription back) is reached the same way from a browser user on the
// new holder, which probed his presence.
func TestClusterDevicesSurviveKill(t *testing.T) {
	ns, nodes := startNodes(t, LocalOptions{}, 90*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := &testCluster{nodes: nodes, dep: ClusterDeployment(nodes, "")}
	lead := c.leader(t, 15*time.Second, -1)
	xd := c.dep.XMPP

	login := func() *xmpptest.Client {
		cl, err := xmpptest.LoginWith(ctx, xd.Server, xd.Callee.JID, xd.Callee.Password,
			xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	dev, stale := login(), login()
	gw := jid.MustParse("interop-caller@" + xd.Component)
	for _, cl := range []*xmpptest.Client{dev, stale} {
		if err := cl.SendPresence(ctx, gw); err != nil {
			t.Fatal(err)
		}
	}
	waitMirrored(t, ns.URL(), dev.JID.Bare().String(), "", dev.JID.Resourcepart(), stale.JID.Resourcepart())
	// Another user reaches the gateway by a subscription (approved both
	// ways) instead: the next holder probes his presence.
	sub, err := xmpptest.LoginWith(ctx, xd.Server, xd.Caller.JID, xd.Caller.Password,
		xmpptest.LoginOptions{Features: xmpptest.JingleFeatures, ApproveSubscriptions: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	via := jid.MustParse("interop-friend@" + xd.Component)
	if err := sub.Subscribe(ctx, via); err != nil {
		t.Fatal(err)
	}
	waitMirrored(t, ns.URL(), sub.JID.Bare().String(), via.String(), sub.JID.Resourcepart())

	start := time.Now()
	nodes[lead].Kill()
	stale.Close() // its unavailable presence finds no component
	next := c.leader(t, 15*time.Second, lead)
	t.Logf("node %d killed; node %d holds the component %v later", lead+1, next+1, time.Since(start).Round(10*time.Millisecond))
	third := 3 - lead - next

	dep := c.onNode(third)
	caller, err := newAgent(ctx, agentOptions{dep: dep, party: Party{Dialect: Browser, Agent: Pion}, role: roleCaller,
		name: "interop-devcaller", label: "caller", media: Audio, expect: Answered,
		tr: NewTranscript(time.Now(), 0), log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller.Close() })
	if err := caller.Call(ctx, "xmpp:"+dev.JID.Bare().String()); err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithTimeout(ctx, 20*time.Second)
	call, err := dev.AnswerDirect(actx)
	acancel()
	if err != nil {
		t.Fatalf("the device without JMI got no direct session-initiate after the takeover: %v", err)
	}
	t.Cleanup(call.Close)
	mctx, mcancel := context.WithTimeout(ctx, 30*time.Second)
	defer mcancel()
	if err := call.Media.WaitMedia(mctx, 10); err != nil {
		t.Fatalf("Jingle device: %v", err)
	}
	waitBrowserMedia(t, mctx, caller)
	t.Logf("browser on node %d and the Jingle device: media both ways (device got %d packets)", third+1, call.Media.Received())
	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := caller.Events().Wait(ctx, 0, is(EvEnded)); err != nil {
		t.Fatalf("browser: no hang-up: %v", err)
	}

	// The subscribed user too, from a browser user on the new holder.
	caller2, err := newAgent(ctx, agentOptions{dep: c.onNode(next), party: Party{Dialect: Browser, Agent: Pion}, role: roleCaller,
		name: "interop-devcaller2", label: "caller2", media: Audio, expect: Answered,
		tr: NewTranscript(time.Now(), 0), log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller2.Close() })
	if err := caller2.Call(ctx, "xmpp:"+sub.JID.Bare().String()); err != nil {
		t.Fatal(err)
	}
	actx, acancel = context.WithTimeout(ctx, 20*time.Second)
	call2, err := sub.AnswerDirect(actx)
	acancel()
	if err != nil {
		t.Fatalf("the subscribed device got no direct session-initiate after the takeover: %v", err)
	}
	t.Cleanup(call2.Close)
	if err := call2.Media.WaitMedia(mctx, 10); err != nil {
		t.Fatalf("subscribed Jingle device: %v", err)
	}
	waitBrowserMedia(t, mctx, caller2)
	if err := call2.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
}

// waitBrowserMedia waits until a browser agent is ICE connected and got
// audio.
func waitBrowserMedia(t *testing.T, ctx context.Context, a Agent) {
	t.Helper()
	for {
		r, err := a.Media().Report(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Connected && r.Audio >= minRTPPackets {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("browser: no media from the Jingle device: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMirrored waits until the cluster's XMPP devices store holds user,
// subscribed via the gateway JID via ("" for none), with each of
// resources known as taking Jingle without JMI.
func waitMirrored(t *testing.T, natsURL, user, via string, resources ...string) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if mirrored(js, user, via, resources, &last) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the devices of %s not mirrored to the cluster store; last value: %s", user, last)
}

func mirrored(js jetstream.JetStream, user, via string, resources []string, last *string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "sigbridge-state-xmpp-devices")
	if err != nil {
		return false
	}
	e, err := kv.Get(ctx, hex.EncodeToString([]byte(user)))
	if err != nil {
		return false
	}
	*last = string(e.Value())
	var v struct {
		Via string `json:"via"`
		Dev []struct {
			Res   string `json:"res"`
			Feats *struct {
				Jingle, RTP, JMI bool
			} `json:"feats"`
		} `json:"dev"`
	}
	if json.Unmarshal(e.Value(), &v) != nil || v.Via != via {
		return false
	}
	direct := map[string]bool{}
	for _, d := range v.Dev {
		direct[d.Res] = d.Feats != nil && d.Feats.Jingle && d.Feats.RTP && !d.Feats.JMI
	}
	for _, r := range resources {
		if !direct[r] {
			return false
		}
	}
	return true
}
