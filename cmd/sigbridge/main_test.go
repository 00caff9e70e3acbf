package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestVersionAndUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, &out, &errOut); code != 0 ||
		!strings.HasPrefix(out.String(), "sigbridge ") {
		t.Fatalf("version: code %d out %q", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("unknown command: code %d", code)
	}
}

func TestConfigRejectsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("http: 127.0.0.1:0\nhttpp: typo\n"), 0o600)
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), "httpp") {
		t.Fatalf("unknown key accepted: %v", err)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("http: 127.0.0.1:9999\ngateway:\n  ring_timeout: 5s\n"), 0o600)
	cfg, err := loadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:9999" || cfg.Gateway.RingTimeout != 5*time.Second || cfg.Gateway.GatherMax != 3*time.Second {
		t.Fatalf("config not merged over defaults: %+v", cfg)
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", bad}, nil, io.Discard, &errOut); code != 2 {
		t.Fatalf("serve with bad config: code %d", code)
	}
}

func TestDefaultsServeOnLoopback8080(t *testing.T) {
	if cfg := defaultConfig(); cfg.HTTP != "127.0.0.1:8080" {
		t.Fatalf("default HTTP address %q", cfg.HTTP)
	}
}

// drainLeg records the hang-up it gets at drain.
type drainLeg struct{ got chan gateway.Event }

func (l drainLeg) Kind() string                   { return "test" }
func (l drainLeg) Caps() gateway.Caps             { return gateway.Caps{Trickle: true, MDNS: true} }
func (l drainLeg) Deliver(ev gateway.Event) error { l.got <- ev; return nil }

func TestServeOpsEndpointsAndDrain(t *testing.T) {
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.DrainTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, "error"), started) }()
	s := <-started
	base := "http://" + s.addr
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "sigbridge_calls_active"} {
		if code, body := get(t, base+path); code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d %q", path, code, body)
		}
	}
	if got := sipOptions(t, s.sip.Addr()); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("SIP OPTIONS: %q", got)
	}
	// A live call is hung up on both legs when the drain deadline passes.
	callee := drainLeg{make(chan gateway.Event, 16)}
	s.gw.Router().Handle(gateway.SchemeXMPP, gateway.DialerFunc(func(context.Context, gateway.DialRequest) (gateway.Leg, error) {
		return callee, nil
	}))
	caller := drainLeg{make(chan gateway.Event, 16)}
	offer := &sdp.SessionDescription{}
	if err := offer.UnmarshalString("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: "alice", Target: "xmpp:bob@example.org", Offer: offer}); err != nil {
		t.Fatal(err)
	}
	<-callee.got // the offer
	cancel()
	for _, l := range []drainLeg{caller, callee} {
		if h, ok := waitHangup(l.got); !ok || h.Reason != gateway.ReasonShutdown {
			t.Fatalf("leg not hung up at drain: %+v", h)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !s.gw.Draining() {
		t.Fatal("gateway not draining after shutdown")
	}
}

func waitHangup(ch chan gateway.Event) (gateway.Hangup, bool) {
	for {
		select {
		case ev := <-ch:
			if h, ok := ev.(gateway.Hangup); ok {
				return h, true
			}
		case <-time.After(10 * time.Second):
			return gateway.Hangup{}, false
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sipOptions sends an out-of-dialog OPTIONS over UDP and returns the reply.
func sipOptions(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	req := "OPTIONS sip:" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-ops1\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@" + local + ">;tag=1\r\nTo: <sip:" + addr + ">\r\n" +
		"Call-ID: ops-probe-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no SIP reply: %v", err)
	}
	return string(buf[:n])
}
