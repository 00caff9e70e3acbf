package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo/sip"
	"mellium.im/xmpp/jid"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/internal/daemon"
	"github.com/sigbridge/sigbridge/internal/natstest"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/sip/siptest"
	"github.com/sigbridge/sigbridge/xmpp"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// The SIP user bob registers one UA at node a and one at node b; alice, a
// browser on node c, calls sip:bob@<realm>: the call rings at both nodes
// (sip/README.md, "Clusters").

const forkRealm = "sigbridge.test"

// sipClusterConfig is clusterTestConfig with SIP on: the registrar realm
// forkRealm and the account bob.
func sipClusterConfig(natsURL, node string) Config {
	cfg := clusterTestConfig(natsURL, node)
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.Realm = forkRealm
	cfg.SIP.InboundUsers = []sip.InboundUser{{Username: "bob", Password: "bobpass"}}
	return cfg
}

// sipPhone is one registered UA of bob: a stream UA (TCP) whose answers
// come from a pion peer, so a call it takes carries media.
type sipPhone struct {
	ua   *siptest.StreamUA
	peer *siptest.Peer
}

// registerPhone registers bob over TCP at a node's SIP address; answer
// decides how it answers INVITEs (nil: it rings until cancelled).
func registerPhone(t *testing.T, sipTCP string, answer func(p *sipPhone, req *sipgo.Request) (int, string)) *sipPhone {
	t.Helper()
	ua, err := siptest.DialStream(tctx(t), "TCP", sipTCP, sip.DefaultWSPath, "bob")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	peer, err := siptest.NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	p := &sipPhone{ua: ua, peer: peer}
	if answer != nil {
		ua.Answer = func(req *sipgo.Request) (int, string) { return answer(p, req) }
	}
	if res, err := ua.Register(tctx(t), forkRealm, "bobpass", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER at %s: %v %v", sipTCP, res, err)
	}
	return p
}

// answerWithPeer answers an INVITE with the phone's pion peer once ready
// is closed (both phones ring by then).
func answerWithPeer(t *testing.T, ready <-chan struct{}) func(p *sipPhone, req *sipgo.Request) (int, string) {
	return func(p *sipPhone, req *sipgo.Request) (int, string) {
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sdp, err := p.peer.Answer(ctx, string(req.Body()), true)
		if err != nil {
			t.Errorf("phone answer: %v", err)
			return 500, ""
		}
		return 200, sdp
	}
}

func waitINVITE(t *testing.T, p *sipPhone, where string) {
	t.Helper()
	if _, err := p.ua.WaitRequest("INVITE", 15*time.Second); err != nil {
		t.Fatalf("bob's phone at %s: %v", where, err)
	}
}

// waitBindings waits until node c's registry shows bob's bindings at the
// given nodes.
func waitBindings(t *testing.T, s *server, nodes ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("bindings of bob at %v", nodes), func() bool {
		for _, n := range nodes {
			if s.node.List(cluster.KindSIPBinding)["bob@"+n] != n {
				return false
			}
		}
		return true
	})
}

// TestClusterSIPForkAcrossNodes: alice (browser, node c) calls bob, whose
// phones are registered at nodes a and b: both ring; b's answers and the
// data channel carries the greetings both ways (ICE connected, DTLS,
// SCTP); a's gets a CANCEL (completed elsewhere). c counts the call as
// remote; alice's hang-up reaches b's phone as a BYE.
func TestClusterSIPForkAcrossNodes(t *testing.T) {
	srv := natstest.Start(t)
	var nodes []*server
	for _, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, startNode(t, sipClusterConfig(srv.URL(), name)))
	}
	ringing := make(chan struct{})
	ringer := registerPhone(t, nodes[0].sip.AddrOf("tcp"), nil)
	taker := registerPhone(t, nodes[1].sip.AddrOf("tcp"), answerWithPeer(t, ringing))
	waitBindings(t, nodes[2], "a", "b")

	alice := login(t, "ws://"+nodes[2].addr+"/ws", "alice", false)
	if err := alice.Call(tctx(t), "sip:bob@"+forkRealm); err != nil {
		t.Fatal(err)
	}
	waitINVITE(t, ringer, "node a")
	waitINVITE(t, taker, "node b")
	close(ringing)

	waitPhoneMedia(t, alice, taker)
	select {
	case msg := <-taker.peer.Messages():
		if !strings.HasPrefix(msg, "hello from alice") {
			t.Errorf("bob's phone got %q", msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bob's phone got nothing on the data channel")
	}
	cancel, err := ringer.ua.WaitRequest("CANCEL", 10*time.Second)
	if err != nil {
		t.Fatalf("bob's phone at node a: %v", err)
	}
	if h := cancel.GetHeader("Reason"); h == nil || !strings.Contains(h.Value(), "cause=200") {
		t.Errorf("CANCEL Reason %v, want SIP;cause=200", h)
	}
	noHangUp(t, alice, 300*time.Millisecond)

	if err := alice.Client.Send(map[string]any{"type": "hang-up", "name": "alice", "target": "sip:bob@" + forkRealm}); err != nil {
		t.Fatal(err)
	}
	if _, err := taker.ua.WaitRequest("BYE", 10*time.Second); err != nil {
		t.Fatalf("bob's phone at node b: %v", err)
	}
	waitFor(t, "the call counted as remote on node c", func() bool {
		_, body := getQuiet("http://" + nodes[2].addr + "/metrics")
		return strings.Contains(body, `sigbridge_calls_total{callee="sip",caller="ws",node="c",outcome="answered",remote="true"} 1`)
	})
	if _, err := ringer.ua.WaitRequest("BYE", 300*time.Millisecond); err == nil {
		t.Error("the cancelled phone got a BYE")
	}
}

// TestClusterSIPForkAllDecline: both phones refuse (486 at a, 603 at b):
// alice gets one hang-up with the best failure, 603 decline.
func TestClusterSIPForkAllDecline(t *testing.T) {
	srv := natstest.Start(t)
	var nodes []*server
	for _, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, startNode(t, sipClusterConfig(srv.URL(), name)))
	}
	busy := registerPhone(t, nodes[0].sip.AddrOf("tcp"), func(*sipPhone, *sipgo.Request) (int, string) { return 486, "" })
	decline := registerPhone(t, nodes[1].sip.AddrOf("tcp"), func(*sipPhone, *sipgo.Request) (int, string) { return 603, "" })
	waitBindings(t, nodes[2], "a", "b")
	alice := login(t, "ws://"+nodes[2].addr+"/ws", "alice", false)
	if err := alice.Call(tctx(t), "sip:bob@"+forkRealm); err != nil {
		t.Fatal(err)
	}
	waitINVITE(t, busy, "node a")
	waitINVITE(t, decline, "node b")
	m := waitHangUp(t, alice, 15*time.Second)
	if m.Int("code") != 603 || m.Str("reason") != "decline" {
		t.Errorf("alice's hang-up %v, want 603 decline", m)
	}
	noHangUp(t, alice, 300*time.Millisecond)
	waitFor(t, "the call counted on node c", func() bool {
		_, body := getQuiet("http://" + nodes[2].addr + "/metrics")
		return strings.Contains(body, `sigbridge_calls_total{callee="sip",caller="ws",node="c",outcome="decline",remote="true"} 1`)
	})
}

// TestClusterSIPForkNodeKilled: node a (a `sigbridge serve` process) is
// killed with SIGKILL while bob's phones ring at a and b: a's branch
// drops, alice keeps ringing, and b's phone answers with media.
func TestClusterSIPForkNodeKilled(t *testing.T) {
	bin := builtSigbridge(t)
	srv := natstest.Start(t)
	a, aSIP := startSIPNodeProc(t, bin, srv.URL(), "a")
	b := startNode(t, sipClusterConfig(srv.URL(), "b"))
	c := startNode(t, sipClusterConfig(srv.URL(), "c"))
	answer := make(chan struct{})
	ringer := registerPhone(t, aSIP, nil)
	taker := registerPhone(t, b.sip.AddrOf("tcp"), answerWithPeer(t, answer))
	waitBindings(t, c, "a", "b")

	alice := login(t, "ws://"+c.addr+"/ws", "alice", false)
	if err := alice.Call(tctx(t), "sip:bob@"+forkRealm); err != nil {
		t.Fatal(err)
	}
	waitINVITE(t, ringer, "node a")
	waitINVITE(t, taker, "node b")
	a.kill()
	waitFor(t, "node c sees node a dead", func() bool { return len(c.node.Nodes()) == 2 })
	waitFor(t, "node c drops the branch at node a", func() bool {
		_, body := getQuiet("http://" + c.addr + "/metrics")
		return strings.Contains(body, `sigbridge_cluster_calls_lost_total{cause="node-lost",node="c"} 1`)
	})
	noHangUp(t, alice, 300*time.Millisecond)
	close(answer)
	waitPhoneMedia(t, alice, taker)
	noHangUp(t, alice, 300*time.Millisecond)
}

// startSIPNodeProc starts `sigbridge serve` as node name with the SIP
// registrar of sipClusterConfig on a free port; it returns the node and
// its SIP TCP address.
func startSIPNodeProc(t *testing.T, bin, natsURL, name string) (*nodeProc, string) {
	t.Helper()
	port, err := daemon.FreePort() // the SIP listener binds UDP and TCP
	if err != nil {
		t.Fatal(err)
	}
	sipAddr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(t.TempDir(), name+".yaml")
	yaml := fmt.Sprintf("sip:\n  listen: %q\n  realm: %s\n  inbound_users:\n    - {username: bob, password: bobpass}\n", sipAddr, forkRealm)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return startNodeProcArgs(t, bin, natsURL, name, "--config", cfg, "--sip", sipAddr), sipAddr
}

// TestClusterJingleCallsSIPForkAcrossNodes: romeo, a Jingle client of
// Prosody, calls bob through the XMPP component held by node a; bob's
// phones are registered at nodes b and c. Both ring; c's answers and audio
// flows both ways between romeo's and the phone's pion peers; b's gets a
// CANCEL; romeo's terminate reaches c's phone as a BYE.
func TestClusterJingleCallsSIPForkAcrossNodes(t *testing.T) {
	p := xmpptest.StartProsody(t, xmpptest.ProsodyConfig{Users: map[string]string{jsipUser: jsipPass}})
	srv := natstest.Start(t)
	cfg := sipClusterConfig(srv.URL(), "a")
	cfg.XMPP = xmpp.Config{Component: xmpp.ComponentConfig{Addr: p.ComponentAddr, Domain: p.Cfg.Component,
		Secret: p.Cfg.Secret}, IQTimeout: 5 * time.Second}
	cfg.Gateway.GatherQuiet, cfg.Gateway.GatherMax = 300*time.Millisecond, 1500*time.Millisecond
	a := startNode(t, cfg)
	b := startNode(t, sipClusterConfig(srv.URL(), "b"))
	c := startNode(t, sipClusterConfig(srv.URL(), "c"))
	ringing := make(chan struct{})
	ringer := registerPhone(t, b.sip.AddrOf("tcp"), nil)
	taker := registerPhone(t, c.sip.AddrOf("tcp"), answerWithPeer(t, ringing))
	waitBindings(t, a, "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.xmpp.WaitConnected(ctx); err != nil {
		t.Fatalf("component not connected on node a: %v\n%s", err, p.LogTail())
	}
	romeo, err := xmpptest.Login(ctx, p.C2SAddr, p.JID(jsipUser), jsipPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(romeo.Close)
	to, err := jid.New(xmpp.EscapeLocal("bob@"+forkRealm), p.Cfg.Component, "")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		call *xmpptest.Call
		err  error
	}
	placed := make(chan result, 1)
	go func() { // Call returns once the session is accepted
		call, err := romeo.Call(ctx, to, xmpptest.CallOptions{})
		placed <- result{call, err}
	}()
	waitINVITE(t, ringer, "node b")
	waitINVITE(t, taker, "node c")
	close(ringing)
	r := <-placed
	if r.err != nil {
		t.Fatalf("romeo's call: %v", r.err)
	}
	t.Cleanup(r.call.Close)
	if err := r.call.Media.WaitMedia(ctx, 20); err != nil {
		t.Fatalf("romeo's peer: %v", err)
	}
	if err := taker.peer.WaitMedia(ctx, 20); err != nil {
		t.Fatalf("bob's phone at node c: %v", err)
	}
	if _, err := ringer.ua.WaitRequest("CANCEL", 10*time.Second); err != nil {
		t.Fatalf("bob's phone at node b: %v", err)
	}
	if err := r.call.Hangup(ctx, "success"); err != nil {
		t.Fatalf("session-terminate: %v", err)
	}
	if _, err := taker.ua.WaitRequest("BYE", 10*time.Second); err != nil {
		t.Fatalf("bob's phone at node c: %v", err)
	}
}

// waitPhoneMedia waits until the browser and bob's phone at node b are ICE
// connected and the browser got the phone's data channel greeting.
func waitPhoneMedia(t *testing.T, alice *browser, taker *sipPhone) {
	t.Helper()
	for _, ch := range []<-chan struct{}{alice.Connected(), taker.peer.Connected()} {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatal("ICE did not connect between alice and bob's phone at node b")
		}
	}
	expectText(t, alice, "hello from siptest")
}
