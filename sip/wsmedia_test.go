package sip

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/siptest"
	"github.com/sigbridge/sigbridge/ws"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// wsEnv is a gateway with the real browser adapter (ws) and the SIP adapter.
type wsEnv struct {
	a     *Adapter
	wsURL string
}

func newWSEnv(t *testing.T, cfg Config) *wsEnv {
	t.Helper()
	log := testLogger(t)
	gm := gateway.NewMetrics(prometheus.NewRegistry())
	gw := gateway.New(gateway.Config{GatherMax: time.Second}, gateway.NewRouter(), log, gm)
	srv := ws.NewServer(ws.Config{}, gw, log, gm)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	cfg.Listen = "127.0.0.1:0"
	a, err := New(cfg, gw, log, gm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return &wsEnv{a: a, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"}
}

// browser logs a wstest peer (the MDN page's dialect) in as name.
func (e *wsEnv) browser(ctx context.Context, t *testing.T, name string) *wstest.Peer {
	t.Helper()
	return e.browserWith(ctx, t, name, nil, wstest.PeerOptions{})
}

// browserWith is browser with extra username fields (features) and options.
func (e *wsEnv) browserWith(ctx context.Context, t *testing.T, name string, login map[string]any, opts wstest.PeerOptions) *wstest.Peer {
	t.Helper()
	c, _, err := wstest.Dial(ctx, e.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Login(ctx, name, login); err != nil {
		t.Fatal(err)
	}
	p, err := wstest.NewPeer(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	p.Start(ctx)
	return p
}

// exchange waits until both ends are connected and heard each other on
// their data channel.
func exchange(ctx context.Context, t *testing.T, b *wstest.Peer, s *siptest.Peer) {
	t.Helper()
	for _, ch := range []<-chan struct{}{b.Connected(), s.Connected()} {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("ICE did not connect")
		}
	}
	for name, ch := range map[string]<-chan string{"browser": b.Messages(), "SIP endpoint": s.Messages()} {
		select {
		case msg := <-ch:
			t.Logf("%s received %q", name, msg)
		case <-ctx.Done():
			t.Fatalf("%s received nothing on its data channel", name)
		}
	}
}

// TestWSBrowserCallsSIPEndpoint: a browser-dialect client on the real
// WebSocket adapter calls the WebRTC SIP endpoint through the gateway.
func TestWSBrowserCallsSIPEndpoint(t *testing.T) {
	env := newWSEnv(t, Config{Routes: []Route{loopbackRoute()}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ep := newEndpoint(t, "pbx")
	b := env.browser(ctx, t, "alice")
	if err := b.Call(ctx, ep.URI()); err != nil {
		t.Fatal(err)
	}
	var call *siptest.Call
	select {
	case call = <-ep.Incoming:
	case <-ctx.Done():
		t.Fatal("no call reached the SIP endpoint")
	}
	exchange(ctx, t, b, call.Peer)
}

// TestSIPEndpointCallsWSBrowser: the SIP endpoint calls a browser user
// logged in over the real WebSocket adapter.
func TestSIPEndpointCallsWSBrowser(t *testing.T) {
	env := newWSEnv(t, Config{TrustedSources: []string{"127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := env.browser(ctx, t, "bob")
	ep := newEndpoint(t, "phone")
	call, err := ep.Dial(ctx, "sip:bob@"+env.a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	exchange(ctx, t, b, call.Peer)
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	select {
	case <-b.HangUps():
	case <-ctx.Done():
		t.Fatal("browser got no hang-up")
	}
}
