package interop

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// sigbridgeBin is the sigbridge binary built once for the tests.
var sigbridgeBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if bin := os.Getenv("INTEROP_SIGBRIDGE_BIN"); bin != "" {
		sigbridgeBin = bin // a parent test process built it
		return m.Run()
	}
	return daemon.BuildAndRun("github.com/sigbridge/sigbridge/cmd/sigbridge", func(bin string) int {
		sigbridgeBin = bin
		return m.Run()
	})
}

// startLocal starts a local deployment (browser dialect and SIP) for one
// test.
func startLocal(t *testing.T) *Local {
	t.Helper()
	return startLocalWith(t, LocalOptions{})
}

// startLocalXMPP starts a local deployment with the XMPP side too: a
// Prosody started by the harness (a missing prosody fails the test).
func startLocalXMPP(t *testing.T) *Local {
	t.Helper()
	return startLocalWith(t, LocalOptions{Prosody: needTool(t, "prosody", "prosody")})
}

func startLocalWith(t *testing.T, o LocalOptions) *Local {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o.Binary, o.Dir, o.Log = sigbridgeBin, t.TempDir(), testLogger(t)
	l, err := StartLocal(ctx, o)
	if err != nil {
		t.Fatalf("start local deployment: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// needTool finds a real peer the README's test command installs (Debian
// package pkg); a missing one fails the test rather than skipping it.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (%v): install Debian package %s, or run the README's test command (bash .ci/test.sh)",
			name, err, pkg)
	}
	return p
}

// runMatrix runs scenarios and fails the test for every failure; known
// failures and probes of pairs sigbridge does not bridge are logged. It
// returns the results.
func runMatrix(t *testing.T, dep Deployment, scs []Scenario, bound time.Duration) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	rs := Run(ctx, dep, scs)
	for _, r := range rs {
		logResult(t, r)
		if r.Status == Fail {
			t.Errorf("%s: %s", r.Scenario, r.Reason)
		}
	}
	return rs
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

// clientAddr is the extra address of lo in the tests' network namespaces.
const clientAddr = "10.99.0.1"

// inLoopbackNetns re-runs the calling test in a new network namespace that
// holds only lo (so that Chromium, which gathers candidates on every
// interface, can reach nothing but loopback) and reports the child's
// verdict. It returns true in the parent, which must then return; inside
// the namespace it returns false and the test runs.
func inLoopbackNetns(t *testing.T) bool {
	t.Helper()
	return inLoopbackNetnsFor(t, 5*time.Minute)
}

// inLoopbackNetnsFor is inLoopbackNetns with a bound on the child test.
func inLoopbackNetnsFor(t *testing.T, bound time.Duration) bool {
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
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	// lo also gets clientAddr (baresip's ICE skips loopback addresses, and
	// third-party SIP clients there are no trusted source of the gateway).
	script := `"$IP" link set lo up && "$IP" addr add ` + clientAddr + `/32 dev lo && exec "$@"`
	cmd := exec.CommandContext(ctx, unshare, "--net", "--fork", "--kill-child", "sh", "-c", script, "sh",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout="+bound.String())
	cmd.Env = append(os.Environ(), "INTEROP_NETNS=1", "INTEROP_SIGBRIDGE_BIN="+sigbridgeBin, "IP="+ip)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("in a loopback-only network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the test failed in its network namespace: %v", err)
	}
	return true
}
