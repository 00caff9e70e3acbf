package xmpp

import (
	"context"
	"encoding/xml"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// env is one test's world: a Prosody on loopback, a gateway with a browser
// directory of fake browser legs, and the adapter running as a component.
type env struct {
	t        *testing.T
	p        *xmpptest.Prosody
	gw       *gateway.Gateway
	a        *Adapter
	browsers *browserDir
	metrics  *gateway.Metrics
	stop     context.CancelFunc
	ran      chan struct{}
}

var testUsers = map[string]string{"romeo": "romeo-pw", "juliet": "juliet-pw", "gateway": "gateway-pw"}

// newEnv starts Prosody, the gateway and the adapter (a component unless
// mod changes the configuration).
func newEnv(t *testing.T, mod func(*Config, *xmpptest.Prosody)) *env {
	t.Helper()
	return newEnvWith(t, xmpptest.ProsodyConfig{Users: testUsers}, mod, nil)
}

// newEnvWith is newEnv with a Prosody configuration and a hook that may
// change the adapter before it runs.
func newEnvWith(t *testing.T, pc xmpptest.ProsodyConfig, mod func(*Config, *xmpptest.Prosody), tweak func(*Adapter)) *env {
	t.Helper()
	p := xmpptest.StartProsody(t, pc)
	e := &env{t: t, p: p, browsers: newBrowserDir(t), metrics: gateway.NewMetrics(prometheus.NewRegistry())}
	router := gateway.NewRouter()
	router.Handle(gateway.SchemeUser, e.browsers)
	e.gw = gateway.New(gateway.Config{RingTimeout: 20 * time.Second}, router, testLogger(t), e.metrics)
	cfg := Config{Component: ComponentConfig{Addr: p.ComponentAddr, Domain: p.Cfg.Component, Secret: p.Cfg.Secret},
		IQTimeout: 5 * time.Second, ProposeTimeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg, p)
	}
	a, err := New(cfg, e.gw, testLogger(t), e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	if tweak != nil {
		tweak(a)
	}
	e.start()
	return e
}

func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.ran = cancel, make(chan struct{})
	go func() {
		defer close(e.ran)
		_ = e.a.Run(ctx)
	}()
	e.t.Cleanup(e.shutdown)
	e.waitConnected()
}

func (e *env) shutdown() {
	e.stop()
	select {
	case <-e.ran:
	case <-time.After(5 * time.Second):
		e.t.Error("adapter did not stop")
	}
}

func (e *env) waitConnected() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.a.WaitConnected(ctx); err != nil {
		e.t.Fatalf("component not connected: %v\n%s", err, e.p.LogTail())
	}
}

// login logs a test user in.
func (e *env) login(user string) *xmpptest.Client {
	e.t.Helper()
	return e.loginWith(user, xmpptest.LoginOptions{})
}

// loginWith logs a test user in as a device with options.
func (e *env) loginWith(user string, opts xmpptest.LoginOptions) *xmpptest.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmpptest.LoginWith(ctx, e.p.C2SAddr, e.p.JID(user), testUsers[user], opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	// A round trip after the initial presence: once the server answered,
	// it has made the resource available, so a proposal to the bare JID
	// reaches it (instead of bouncing with service-unavailable).
	ping := struct {
		XMLName xml.Name `xml:"urn:xmpp:ping ping"`
	}{}
	if _, err := c.SendIQ(ctx, c.JID.Domain(), stanza.GetIQ, ping); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// gwJID returns local@component.
func (e *env) gwJID(local string) jid.JID {
	j, err := jid.New(local, e.p.Cfg.Component, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// testLogger logs to the test (only while it runs), at debug level with
// SIGBRIDGE_TEST_DEBUG set.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	level := slog.LevelInfo
	if os.Getenv("SIGBRIDGE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
