package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	interopBinOnce sync.Once
	interopBin     string
	interopBinErr  error
	interopBinOut  []byte
)

// builtSigbridge builds this command once per test binary, for the local
// deployment `sigbridge interop` starts (the test binary cannot serve).
func builtSigbridge(t *testing.T) string {
	t.Helper()
	interopBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sigbridge-interop-bin-")
		if err != nil {
			interopBinErr = err
			return
		}
		interopBin = filepath.Join(dir, "sigbridge")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		interopBinOut, interopBinErr = exec.CommandContext(ctx, "go", "build", "-o", interopBin, ".").CombinedOutput()
	})
	if interopBinErr != nil {
		t.Fatalf("go build: %v\n%s", interopBinErr, interopBinOut)
	}
	return interopBin
}

func runInteropForTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := runInterop(ctx, append([]string{"--sigbridge", builtSigbridge(t), "--dir", t.TempDir()}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestInteropLocalSubset(t *testing.T) {
	dir := t.TempDir()
	jsonFile, htmlFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	code, out, errOut := runInteropForTest(t, "--run", `^browser-to-browser/(answered-audio|answered-av-data|busy|unknown)$`,
		"--json", jsonFile, "--html", htmlFile)
	t.Logf("output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	for _, want := range []string{"caller \\ callee", "PASS 4/4", "browser-to-browser/answered-av-data"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	var rep struct{ Results []struct{ Status string } }
	b, err := os.ReadFile(jsonFile)
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Results) != 4 {
		t.Errorf("json report: %v, %d results", err, len(rep.Results))
	}
	if h, err := os.ReadFile(htmlFile); err != nil || !bytes.Contains(h, []byte(`<table id="matrix">`)) {
		t.Errorf("html report: %v", err)
	}
}

func TestInteropNegativeControlFails(t *testing.T) {
	code, out, _ := runInteropForTest(t, "--negative-control", "--run", "^negative-control/")
	t.Logf("output:\n%s", out)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "FAIL  negative-control/withheld-candidates  no ICE connectivity") {
		t.Errorf("the negative control is not reported red with no ICE connectivity")
	}
}

func TestInteropFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runInterop(context.Background(), []string{"--run", "^nothing-matches$"}, &out, &errOut); code != 2 {
		t.Errorf("no matching scenario: exit %d, want 2", code)
	}
	out.Reset()
	if code := runInterop(context.Background(), []string{"--list", "--run", "^browser-to-browser/"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "browser-to-browser/hold-resume") {
		t.Errorf("--list: exit %d, output %q", code, out.String())
	}
	if code := runInterop(context.Background(), []string{"stray"}, &out, &errOut); code != 2 {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
	f, err := parseInteropFlags([]string{"--ws", "ws://a/ws,ws://b/ws", "--ws", "ws://c/ws"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	dep := externalDeployment(f)
	if want := []string{"ws://a/ws", "ws://b/ws", "ws://c/ws"}; !slices.Equal(dep.WSNodes, want) || dep.WS != want[0] {
		t.Errorf("three --ws URLs: WS %q, WSNodes %q, want %q", dep.WS, dep.WSNodes, want)
	}
	if dep := externalDeployment(interopFlags{ws: []string{"ws://a/ws"}}); dep.WS != "ws://a/ws" || dep.WSNodes != nil {
		t.Errorf("one --ws: WS %q, WSNodes %q", dep.WS, dep.WSNodes)
	}
	if _, err := parseInteropFlags([]string{"--ws", "ws://a/ws,"}, &errOut); err == nil {
		t.Error("an empty URL in --ws was accepted")
	}
}

// TestInteropSIPAndJingle runs the command on SIP and Jingle paths: the
// local deployment gets a SIP side and a Prosody started by the harness;
// SIPp plays a SIP callee; the pairs sigbridge does not bridge by design
// are probed and shown as "n/a: not bridged" (skipped, not failed).
func TestInteropSIPAndJingle(t *testing.T) {
	for _, tool := range []string{"sipp", "prosody"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run the README's test command (bash .ci/test.sh), which installs it", tool)
		}
	}
	code, out, errOut := runInteropForTest(t, "--run",
		`^(sip-to-jingle|jingle-to-sip)/answered-audio$|^browser-to-sip/busy$|^(sip-to-sip|jingle-to-jingle)/`)
	t.Logf("output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	for _, want := range []string{"n/a: not bridged", "interop: 3 passed, 0 failed, 2 skipped, 0 known failures"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, name := range []string{"sip-to-jingle/answered-audio", "jingle-to-sip/answered-audio", "browser-to-sip/busy"} {
		if !regexp.MustCompile(`(?m)^PASS +` + regexp.QuoteMeta(name) + ` `).MatchString(out) {
			t.Errorf("%s did not pass", name)
		}
	}
}
