package load

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
	"github.com/sigbridge/sigbridge/internal/sipptest"
	"github.com/sigbridge/sigbridge/interop"
)

// sigbridgeBin is the sigbridge binary built once for the tests.
var sigbridgeBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	return daemon.BuildAndRun("github.com/sigbridge/sigbridge/cmd/sigbridge", func(bin string) int {
		sigbridgeBin = bin
		return m.Run()
	})
}

// startGateway starts the real gateway as a subprocess on loopback (the
// interop harness's local deployment: browser dialect, and SIP routing
// sip:*@<SIPpListen> over TCP).
func startGateway(t *testing.T) *interop.Local {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := interop.StartLocal(ctx, interop.LocalOptions{Binary: sigbridgeBin, Dir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if l.SIP == nil || l.SIP.SIPpListen == "" {
		t.Fatal("the local gateway has no SIP side")
	}
	return l
}

// startSIPpUAS runs SIPp (internal/sipptest) as the answerer of calls
// calls at addr over TCP (testdata/sipp/uas_answer.xml), listening when it
// returns; it exits 0 once calls calls completed successfully.
func startSIPpUAS(t *testing.T, addr string, calls int) *sipptest.SIPp {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := filepath.Abs("testdata/sipp/uas_answer.xml")
	if err != nil {
		t.Fatal(err)
	}
	return sipptest.StartT(t, sipptest.Options{Scenario: sf, Dir: t.TempDir(), Host: host, Port: p, Transport: "t1",
		Calls: calls, Timeout: 60 * time.Second})
}

// waitSIPp returns SIPp's exit error (nil: every call of -m succeeded); a
// SIPp still running after d fails the test.
func waitSIPp(t *testing.T, s *sipptest.SIPp, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.Wait(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		t.Fatalf("sipp did not finish within %s:\n%s", d, s.Logs())
	}
	return err
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// tWriter sends progress lines to the test log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// runLoad runs the tool against the gateway, bounded.
func runLoad(t *testing.T, o Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o, tWriter{t})
	if err != nil {
		t.Fatalf("load run: %v", err)
	}
	var b lockedBuffer
	_ = rep.WriteText(&b)
	t.Logf("report:\n%s", b.String())
	return rep
}

// startTokenGateway starts the gateway with ws.token_secret set (the
// harness's local deployment has no authentication) and no SIP; it
// returns the WebSocket URL.
func startTokenGateway(t *testing.T, secret string) string {
	t.Helper()
	return startGatewayYAML(t, "ws:\n  token_secret: "+secret+"\n")
}

// startGatewayYAML starts the gateway on loopback without SIP, with yaml
// appended to its configuration, and returns the WebSocket URL.
func startGatewayYAML(t testing.TB, yaml string) string {
	t.Helper()
	port, err := daemon.FreeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	addr := daemon.Loopback(port)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sigbridge.yaml")
	yaml = "http: " + addr + "\nlog_level: warn\ndrain_timeout: 1s\nsip:\n  listen: \"off\"\n" + yaml
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sigbridgeBin, "serve", "--config", cfg)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "ws://" + addr + "/ws"
			}
		}
		select {
		case err := <-done:
			t.Fatalf("sigbridge exited: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("sigbridge not ready:\n%s", out.String())
	return ""
}
