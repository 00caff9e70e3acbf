package ws

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// harness is a gateway with the browser adapter on an httptest server.
type harness struct {
	t       testing.TB
	gw      *gateway.Gateway
	srv     *Server
	hs      *httptest.Server
	metrics *gateway.Metrics
	logs    *syncBuffer
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, cfg Config, gcfg gateway.Config) *harness {
	t.Helper()
	if cfg.listInterval == 0 {
		cfg.listInterval = 20 * time.Millisecond // tests log in quickly one after the other
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	metrics := gateway.NewMetrics(prometheus.NewRegistry())
	gw := gateway.New(gcfg, gateway.NewRouter(), log, metrics)
	srv := NewServer(cfg, gw, log, metrics)
	hs := httptest.NewServer(srv.Handler())
	h := &harness{t: t, gw: gw, srv: srv, hs: hs, metrics: metrics, logs: logs}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.t.Errorf("shutdown: %v", err)
	}
	h.hs.Close()
	if h.t.Failed() {
		h.t.Logf("server log:\n%s", h.logs.String())
	}
}

// url returns the WebSocket URL of path ("/ws" or "/").
func (h *harness) url(path string) string { return "ws" + strings.TrimPrefix(h.hs.URL, "http") + path }

// dial connects a client to /ws.
func (h *harness) dial(opts *wstest.Options) *wstest.Client {
	h.t.Helper()
	c, _, err := wstest.Dial(ctxT(h.t), h.url("/ws"), opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// login connects and logs in as name; extra fields go into username.
func (h *harness) login(name string, extra map[string]any) *wstest.Client {
	h.t.Helper()
	c := h.dial(nil)
	got, err := c.Login(ctxT(h.t), name, extra)
	if err != nil {
		h.t.Fatalf("login %s: %v", name, err)
	}
	if got != name {
		h.t.Fatalf("logged in as %q, want %q", got, name)
	}
	return c
}

// ext are the username fields of an extension client.
var ext = map[string]any{"features": []string{"callId", "ringing", "end-of-candidates", "error"}}

// errorCount returns sigbridge_errors_total{dialect="ws",code}.
func (h *harness) errorCount(code string) float64 {
	return testutil.ToFloat64(h.metrics.Errors.WithLabelValues("ws", code))
}

// ctxT is a context that ends with a generous per-step deadline.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expect waits for a message of type typ on c.
func expect(t testing.TB, c *wstest.Client, typ string) wstest.Message {
	t.Helper()
	m, err := c.ExpectType(ctxT(t), typ)
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v (pending %v)", c.Name, typ, err, c.Pending())
	}
	return m
}

// expectError waits for an error message and checks its code and ref.
func expectError(t testing.TB, c *wstest.Client, code int, ref string) wstest.Message {
	t.Helper()
	m := expect(t, c, "error")
	if m.Int("code") != code || m.Str("ref") != ref {
		t.Fatalf("%s: got error %v, want code %d ref %q", c.Name, m, code, ref)
	}
	if m.Str("reason") == "" || m.Str("text") == "" {
		t.Fatalf("error without reason or text: %v", m)
	}
	return m
}

// expectNone asserts that no message of type typ arrives within d.
func expectNone(t testing.TB, c *wstest.Client, typ string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := c.ExpectType(ctx, typ); err == nil {
		t.Fatalf("%s: unexpected %s: %v", c.Name, typ, m)
	}
}

// send sends v or fails the test.
func send(t testing.TB, c *wstest.Client, v any) {
	t.Helper()
	if err := c.Send(v); err != nil {
		t.Fatal(err)
	}
}

// sendRaw sends a raw text frame or fails the test.
func sendRaw(t testing.TB, c *wstest.Client, s string) {
	t.Helper()
	if err := c.SendRaw([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func asCloseError(err error, target **websocket.CloseError) bool { return errors.As(err, target) }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func isErr(err, target error) bool { return errors.Is(err, target) }
