package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHostPolicy(t *testing.T) {
	ifaces := func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("192.0.2.7")} }
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}
	all := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	public := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 443}
	cases := []struct {
		addr    *net.TCPAddr
		allowed []string
		host    string
		ok      bool
	}{
		{loop, nil, "127.0.0.1:8080", true},
		{loop, nil, "localhost:8080", true},
		{loop, nil, "LOCALHOST.:8080", true},
		{loop, nil, "127.0.0.2:8080", true},
		{loop, nil, "[::1]:8080", true},
		{loop, nil, "localhost:9090", false}, // defaults only on the listen port
		{loop, nil, "localhost", false},      // port 80
		{loop, nil, "evil.example:8080", false},
		{loop, nil, "", false},
		{loop, nil, "192.0.2.7:8080", false},
		{all, nil, "192.0.2.7:8080", true},
		{all, nil, "localhost:8080", true},
		{all, nil, "evil.example:8080", false},
		{public, nil, "198.51.100.1:443", true},
		{public, nil, "localhost:443", false},
		{public, nil, "127.0.0.1:443", false},
		{public, []string{"gw.example.org"}, "gw.example.org", true},
		{public, []string{"gw.example.org"}, "GW.example.org:8443", true},
		{public, []string{"gw.example.org:443"}, "gw.example.org:443", true},
		{public, []string{"gw.example.org:443"}, "gw.example.org:8443", false},
		{public, []string{"[2001:db8::1]:443"}, "[2001:db8::1]:443", true},
		{public, []string{"gw.example.org"}, "evil.example", false},
	}
	for _, tc := range cases {
		p, err := newHostPolicy(tc.addr, tc.allowed, ifaces)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.allows(tc.host); got != tc.ok {
			t.Errorf("listen %v allowed %v: Host %q allowed=%v, want %v", tc.addr, tc.allowed, tc.host, got, tc.ok)
		}
	}
	for _, bad := range []string{"", "http://gw.example.org", "gw.example.org/ws", "user@gw", ":443"} {
		if _, err := newHostPolicy(loop, []string{bad}, ifaces); !errors.Is(err, errHostEntry) {
			t.Errorf("entry %q accepted: %v", bad, err)
		}
	}
}

// TestDNSRebindingRefused: a page of evil.example whose name was rebound to
// the gateway's loopback address sends Host and Origin with its own name.
// It must get no socket (nor metrics, nor the demo page); the gateway's own
// names pass, and so does the MDN sample's page served on another port.
func TestDNSRebindingRefused(t *testing.T) {
	logs := &lockedBuffer{}
	s := startServe(t, defaultConfig(), logs)
	_, port, _ := net.SplitHostPort(s.addr)
	url := "ws://" + s.addr + "/"
	evil := "evil.example:" + port
	hdr := http.Header{"Host": {evil}, "Origin": {"http://" + evil}, "Sec-WebSocket-Protocol": {"json"}}
	c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		c.Close()
		t.Fatal("the rebinding request got a WebSocket")
	}
	if resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("rebinding request: %v, want 421", resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "allowed_hosts") {
		t.Fatalf("421 body %q does not say what to do", body)
	}
	if !strings.Contains(logs.String(), "Host not served here") || !strings.Contains(logs.String(), evil) {
		t.Fatalf("no log line for the refused Host:\n%s", logs.String())
	}
	for _, path := range []string{"/metrics", "/healthz", "/", "/ws"} {
		if code := getWithHost(t, "http://"+s.addr+path, evil); code != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host %s: %d, want 421", path, evil, code)
		}
		if code := getWithHost(t, "http://"+s.addr+path, "localhost:"+port); code == http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host localhost: 421", path)
		}
	}
	// The unmodified MDN client: its page is on port 3000 of the same host
	// and connects to ws://<page hostname>:<gateway port> with "json".
	for _, host := range []string{"localhost", "127.0.0.1"} {
		hdr := http.Header{"Host": {host + ":" + port}, "Origin": {"http://" + host + ":3000"}, "Sec-WebSocket-Protocol": {"json"}}
		c, _, err := websocket.DefaultDialer.Dial(url, hdr)
		if err != nil {
			t.Fatalf("MDN page on %s:3000: %v", host, err)
		}
		if c.Subprotocol() != "json" {
			t.Errorf("subprotocol %q", c.Subprotocol())
		}
		c.Close()
	}
}

func TestAllowedHostsConfigured(t *testing.T) {
	cfg := defaultConfig()
	cfg.AllowedHosts = []string{"gw.example.org"}
	s := startServe(t, cfg, &lockedBuffer{})
	hdr := http.Header{"Host": {"gw.example.org"}, "Origin": {"https://gw.example.org"}}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/ws", hdr)
	if err != nil {
		t.Fatalf("configured host refused: %v", err)
	}
	c.Close()
	if code := getWithHost(t, "http://"+s.addr+"/healthz", "other.example.org"); code != http.StatusMisdirectedRequest {
		t.Fatalf("unlisted host: %d", code)
	}
}

// TestAnonymousBeyondLoopbackRefused: without ws.token_secret the gateway
// does not listen on a public address unless allow_anonymous says so.
func TestAnonymousBeyondLoopbackRefused(t *testing.T) {
	cfg := defaultConfig()
	cfg.HTTP = "0.0.0.0:0"
	cfg.SIP.Listen = sipOff
	logs := &lockedBuffer{}
	err := serve(context.Background(), cfg, newLogger(logs, "info"), nil)
	if !errors.Is(err, errAnonymous) {
		t.Fatalf("serve on 0.0.0.0 without token_secret: %v", err)
	}
	if !strings.Contains(logs.String(), "ws.token_secret") || !strings.Contains(logs.String(), "allow_anonymous") {
		t.Fatalf("the log does not say why:\n%s", logs.String())
	}
	for name, change := range map[string]func(*Config){
		"allow_anonymous": func(c *Config) { c.AllowAnonymous = true },
		"token_secret":    func(c *Config) { c.WS.TokenSecret = "s3cret" },
	} {
		c := cfg
		change(&c)
		s := startServe(t, c, &lockedBuffer{})
		_, port, _ := net.SplitHostPort(s.addr)
		if code := getWithHost(t, "http://127.0.0.1:"+port+"/healthz", "127.0.0.1:"+port); code != http.StatusOK {
			t.Fatalf("%s: healthz %d", name, code)
		}
	}
}

// startServe runs serve with cfg (HTTP on a free port unless set, SIP off)
// until the test ends.
func startServe(t *testing.T, cfg Config, logs io.Writer) *server {
	t.Helper()
	if cfg.HTTP == defaultConfig().HTTP {
		cfg.HTTP = "127.0.0.1:0"
	}
	cfg.SIP.Listen = sipOff
	cfg.DrainTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(logs, "info"), started) }()
	select {
	case s := <-started:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		return s
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
		return nil
	}
}

func getWithHost(t *testing.T, url, host string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
