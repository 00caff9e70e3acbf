package interop

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sigbridgeBin is the sigbridge binary built once for the tests.
var sigbridgeBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "interop-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin := os.Getenv("INTEROP_SIGBRIDGE_BIN"); bin != "" {
		sigbridgeBin = bin // a parent test process built it
		return m.Run()
	}
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

// startLocal starts a local deployment for one test.
func startLocal(t *testing.T) *Local {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := StartLocal(ctx, LocalOptions{Binary: sigbridgeBin, Dir: t.TempDir(), Log: testLogger(t)})
	if err != nil {
		t.Fatalf("start local deployment: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// inLoopbackNetns re-runs the calling test in a new network namespace that
// holds only lo (so that Chromium, which gathers candidates on every
// interface, can reach nothing but loopback) and reports the child's
// verdict. It returns true in the parent, which must then return; inside
// the namespace it returns false and the test runs.
func inLoopbackNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv("INTEROP_NETNS") == "1" {
		return false
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare not found: %v", err)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		ip = "/usr/sbin/ip"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	script := `"$IP" link set lo up && exec "$@"`
	cmd := exec.CommandContext(ctx, unshare, "--net", "--fork", "--kill-child", "sh", "-c", script, "sh",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "INTEROP_NETNS=1", "INTEROP_SIGBRIDGE_BIN="+sigbridgeBin, "IP="+ip)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("in a loopback-only network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the test failed in its network namespace: %v", err)
	}
	return true
}
