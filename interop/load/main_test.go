package load

import (
	"context"
	"fmt"
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

	"github.com/sigbridge/sigbridge/interop"
)

// sigbridgeBin is the sigbridge binary built once for the tests.
var sigbridgeBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "load-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sigbridgeBin = filepath.Join(dir, "sigbridge")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", sigbridgeBin, "github.com/sigbridge/sigbridge/cmd/sigbridge")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/sigbridge: %v\n%s", err, out)
		return 1
	}
	return m.Run()
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

// sippUAS is SIPp answering calls (testdata/sipp/uas_answer.xml) over TCP.
type sippUAS struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan error
}

// startSIPpUAS runs SIPp as the answerer of calls calls at addr; it exits
// 0 once calls calls completed successfully.
func startSIPpUAS(t *testing.T, addr string, calls int) *sippUAS {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp not found (%v): install Debian package sip-tester (bash .ci/test.sh does)", err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := filepath.Abs("testdata/sipp/uas_answer.xml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "-sf", sf, "-i", host, "-p", port, "-t", "t1", "-cp", strconv.Itoa(freeUDPPort(t)),
		"-mp", strconv.Itoa(freeUDPPort(t)), "-m", strconv.Itoa(calls), "-aa", "-nostdin", "-timeout", "60s",
		"-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	s := &sippUAS{cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	waitTCP(t, addr)
	return s
}

// wait returns SIPp's exit error (nil: every call of -m succeeded).
func (s *sippUAS) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(d):
		t.Fatalf("sipp did not finish within %s:\n%s", d, s.out.String())
		return nil
	}
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sipp does not listen on %s", addr)
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
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
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sigbridge.yaml")
	yaml := "http: " + addr + "\nlog_level: warn\ndrain_timeout: 1s\nsip:\n  listen: \"off\"\nws:\n  token_secret: " + secret + "\n"
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
