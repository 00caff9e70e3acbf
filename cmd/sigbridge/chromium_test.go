//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The end-to-end test: two headless Chromium pages of the embedded demo page
// call each other through a running sigbridge, and getStats() must show both
// peer connections connected and receiving media.
//
// The node driver (testdata/e2e/driver.mjs, playwright-core) starts the
// sigbridge binary and Chromium inside a fresh network and PID namespace that
// holds only lo, so signaling and media stay on loopback and nothing outlives
// the test. Needs root (for unshare), chromium, node and npm: the README's test
// command installs them.

const e2eDir = "testdata/e2e"

// e2eResult is what driver.mjs prints on stdout.
type e2eResult struct {
	OK                bool       `json:"ok"`
	Error             string     `json:"error"`
	URL               string     `json:"url"`
	Steps             []string   `json:"steps"`
	Caller            *pageStats `json:"caller"`
	Callee            *pageStats `json:"callee"`
	CalleeSawIncoming bool       `json:"calleeSawIncoming"`
	CallerSawRinging  bool       `json:"callerSawRinging"`
	ChatDelivered     bool       `json:"chatDelivered"`
	Screenshots       []string   `json:"screenshots"`
	CalleeAfterHangup *demoState `json:"calleeAfterHangup"`
	CallerAfterHangup *demoState `json:"callerAfterHangup"`
	UnknownTarget     *demoState `json:"unknownTarget"`
	Declined          struct {
		Caller *demoState `json:"caller"`
		Callee *demoState `json:"callee"`
	} `json:"declined"`
}

type pageStats struct {
	State              string         `json:"state"`
	Media              string         `json:"media"`
	ConnectionState    string         `json:"connectionState"`
	IceConnectionState string         `json:"iceConnectionState"`
	PairSucceeded      bool           `json:"pairSucceeded"`
	InboundBytes       map[string]int `json:"inboundBytes"`
	SelectedPair       *struct {
		Local  string `json:"local"`
		Remote string `json:"remote"`
	} `json:"selectedPair"`
}

// demoState is window.sigbridgeDemo plus the status line.
type demoState struct {
	State     string `json:"state"`
	Status    string `json:"status"`
	LastError *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
		Text   string `json:"text"`
	} `json:"lastError"`
	LastHangup *struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
		Code   int    `json:"code"`
	} `json:"lastHangup"`
}

func TestChromiumDemoCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eBudget(t))
	defer cancel()

	start := time.Now()
	tools := requireE2ETools(t)
	npmInstall(ctx, t, tools["npm"])
	tmp := t.TempDir()
	bin := buildSigbridge(ctx, t, tmp)
	t.Logf("setup (tools, npm, go build) took %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	res, stderr := runDriver(ctx, t, tools, bin, tmp)
	t.Logf("driver took %v", time.Since(start).Round(time.Millisecond))
	if t.Failed() || !res.OK {
		t.Logf("driver log:\n%s", stderr)
		t.Fatalf("the call did not work: %s (steps: %s)", res.Error, strings.Join(res.Steps, " -> "))
	}
	t.Logf("steps: %s", strings.Join(res.Steps, " -> "))

	checkMedia(t, "caller", res.Caller)
	checkMedia(t, "callee", res.Callee)
	if res.Caller.Media != "devices" || res.Callee.Media != "synthetic" {
		t.Errorf("media sources: caller %q, callee %q; want devices (fake camera) and synthetic (fallback)",
			res.Caller.Media, res.Callee.Media)
	}
	if !res.CalleeSawIncoming || !res.CallerSawRinging {
		t.Errorf("callee saw incoming call %v, caller saw ringing %v; want both", res.CalleeSawIncoming, res.CallerSawRinging)
	}
	if !res.ChatDelivered {
		t.Error("a chat message over the data channel did not arrive")
	}
	checkHangup(t, res)
	checkUnknownTarget(t, res.UnknownTarget)
	checkDeclined(t, res.Declined.Caller, res.Declined.Callee)
	if t.Failed() {
		t.Logf("driver log:\n%s", stderr)
	}
}

// e2eBudget bounds the whole test by the go test deadline, keeping a margin
// for the report.
func e2eBudget(t *testing.T) time.Duration {
	budget := 4 * time.Minute
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - 15*time.Second; left < budget {
			budget = left
		}
	}
	return budget
}

// requireE2ETools fails (never skips) when something the test needs is missing.
func requireE2ETools(t *testing.T) map[string]string {
	t.Helper()
	const hint = "run the README's test command (as root: it installs chromium, node and npm)"
	tools := map[string]string{}
	for _, name := range []string{"chromium", "node", "npm", "unshare", "ip"} {
		p, err := exec.LookPath(name)
		if err != nil && name == "ip" {
			p, err = exec.LookPath("/usr/sbin/ip")
		}
		if err != nil {
			t.Fatalf("%s not found (%v): %s", name, err, hint)
		}
		tools[name] = p
	}
	if out, err := exec.Command(tools["unshare"], "--net", "--pid", "--fork", "true").CombinedOutput(); err != nil {
		t.Fatalf("cannot create a network namespace (%v: %s): the test needs root; %s", err, out, hint)
	}
	return tools
}

// npmInstall installs playwright-core (never a browser) when node_modules is
// missing.
func npmInstall(ctx context.Context, t *testing.T, npm string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core")); err == nil {
		return
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", e2eDir, err, out)
	}
}

// buildSigbridge builds this command, or takes $SIGBRIDGE_E2E_BIN when set (a
// binary built elsewhere).
func buildSigbridge(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("SIGBRIDGE_E2E_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "sigbridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sigbridge: %v\n%s", err, out)
	}
	return bin
}

// runDriver runs driver.mjs in a new network namespace (only lo, brought up)
// and PID namespace (killing unshare kills Chromium and sigbridge too).
func runDriver(ctx context.Context, t *testing.T, tools map[string]string, bin, tmp string) (e2eResult, string) {
	t.Helper()
	script := `"$IP" link set lo up && exec "$NODE" driver.mjs`
	cmd := exec.CommandContext(ctx, tools["unshare"], "--net", "--pid", "--fork", "--kill-child", "sh", "-c", script)
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(),
		"IP="+tools["ip"], "NODE="+tools["node"], "CHROMIUM="+tools["chromium"],
		"SIGBRIDGE_BIN="+bin, "TMPDIR="+tmp, "SCREENSHOT_DIR="+screenshotDir(t, tmp))
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var res e2eResult
	line := lastLine(stdout.String())
	if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
		t.Errorf("driver printed no result (run error: %v, context: %v); stdout: %q", err, ctx.Err(), line)
		return res, stderr.String()
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Errorf("driver: %v", err)
	}
	return res, stderr.String()
}

// screenshotDir keeps screenshots in $SIGBRIDGE_E2E_SCREENSHOTS when set
// (they are not committed), else in the test's temp dir.
func screenshotDir(t *testing.T, tmp string) string {
	if d := os.Getenv("SIGBRIDGE_E2E_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	return tmp
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func checkMedia(t *testing.T, who string, s *pageStats) {
	t.Helper()
	if s == nil {
		t.Errorf("%s: no stats", who)
		return
	}
	if s.ConnectionState != "connected" || !s.PairSucceeded {
		t.Errorf("%s: connectionState %q, candidate pair succeeded %v; want connected and true",
			who, s.ConnectionState, s.PairSucceeded)
	}
	total := 0
	for _, n := range s.InboundBytes {
		total += n
	}
	if total == 0 {
		t.Errorf("%s: no inbound RTP bytes (%v)", who, s.InboundBytes)
	}
	if s.SelectedPair == nil {
		t.Errorf("%s: no selected candidate pair", who)
		return
	}
	for _, c := range []string{s.SelectedPair.Local, s.SelectedPair.Remote} {
		if !loopbackCandidate(c) {
			t.Errorf("%s: media path %s <-> %s is not on loopback", who, s.SelectedPair.Local, s.SelectedPair.Remote)
			break
		}
	}
	t.Logf("%s: %s, %s <-> %s, inbound bytes %v", who, s.ConnectionState,
		s.SelectedPair.Local, s.SelectedPair.Remote, s.InboundBytes)
}

// loopbackCandidate reads "addr:port/proto/type" as printed by the driver.
func loopbackCandidate(c string) bool {
	hostport, _, _ := strings.Cut(c, "/")
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func checkHangup(t *testing.T, res e2eResult) {
	t.Helper()
	b, a := res.CalleeAfterHangup, res.CallerAfterHangup
	if b == nil || a == nil {
		t.Error("no state after the hang-up")
		return
	}
	if b.State != "idle" || b.LastHangup == nil || b.LastHangup.By != "remote" {
		t.Errorf("callee after the caller hung up: state %q, status %q, last hang-up %+v; want idle, by remote",
			b.State, b.Status, b.LastHangup)
	}
	if a.State != "idle" {
		t.Errorf("caller after hanging up: state %q (%s)", a.State, a.Status)
	}
	for who, st := range map[string]*demoState{"caller": a, "callee": b} {
		if st.LastError != nil {
			t.Errorf("%s page got an error from the gateway during the call: %+v", who, *st.LastError)
		}
	}
}

// checkUnknownTarget: calling a user who does not exist gives an `error`
// (404 or 480, gone) and the page is ready again.
func checkUnknownTarget(t *testing.T, s *demoState) {
	t.Helper()
	if s == nil || s.LastError == nil || s.State != "idle" {
		t.Errorf("calling an unknown user: %+v; want an error and state idle", s)
		return
	}
	if c := s.LastError.Code; c != 404 && c != 480 {
		t.Errorf("calling an unknown user: error %+v; want code 404 or 480", *s.LastError)
	}
	t.Logf("unknown user: %q", s.Status)
}

// checkDeclined: the callee declines, the caller sees hang-up with reason
// decline.
func checkDeclined(t *testing.T, caller, callee *demoState) {
	t.Helper()
	if caller == nil || callee == nil {
		t.Error("no state after the declined call")
		return
	}
	h := caller.LastHangup
	if caller.State != "idle" || h == nil || h.By != "remote" || h.Reason != "decline" {
		t.Errorf("caller after the callee declined: state %q, status %q, hang-up %+v; want idle, remote decline",
			caller.State, caller.Status, h)
	}
	if callee.State != "idle" {
		t.Errorf("callee after declining: state %q", callee.State)
	}
	t.Logf("declined: %q", caller.Status)
}
