package load

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Browser → SIP: 50 calls at 20/s, all answered by SIPp, which also sees
// 50 complete calls (INVITE, ACK, BYE) and exits 0.
func TestBrowserToSIPAllAnswered(t *testing.T) {
	l := startGateway(t)
	sipp := startSIPpUAS(t, l.SIP.SIPpListen, 50)
	rep := runLoad(t, Options{WS: l.WS, Users: 10, Rate: 20, Calls: 50, Hold: time.Second,
		Target: "sip:uas@" + l.SIP.SIPpListen})
	if rep.Attempted != 50 || rep.Answered != 50 || rep.Failed != 0 || rep.NotPlaced != 0 {
		t.Errorf("attempted %d answered %d failed %d not placed %d, want 50/50/0/0; failures %v",
			rep.Attempted, rep.Answered, rep.Failed, rep.NotPlaced, rep.Failures)
	}
	if rep.Setup.Count != 50 || rep.Setup.P50 <= 0 || rep.Setup.P50 > rep.Setup.P99 || rep.Setup.P99 > rep.Setup.Max {
		t.Errorf("setup latency %+v: want 50 samples, 0 < p50 ≤ p99 ≤ max", rep.Setup)
	}
	if len(rep.Dropped) != 0 {
		t.Errorf("calls hung up by the far end during the hold: %v", rep.Dropped)
	}
	if err := waitSIPp(t, sipp, 30*time.Second); err != nil {
		t.Errorf("sipp did not complete 50 calls: %v\n%s", err, sipp.Logs())
	}
}

// Browser → browser: the tool's own callees answer every call.
func TestBrowserToBrowserAnswered(t *testing.T) {
	l := startGateway(t)
	rep := runLoad(t, Options{WS: l.WS, Users: 10, Rate: 20, Calls: 40, Hold: 500 * time.Millisecond,
		Target: "callee-%d", Answer: true, Media: "av"})
	if rep.Attempted != 40 || rep.Answered != 40 || rep.Failed != 0 || rep.NotPlaced != 0 {
		t.Errorf("attempted %d answered %d failed %d not placed %d, want 40/40/0/0; failures %v",
			rep.Attempted, rep.Answered, rep.Failed, rep.NotPlaced, rep.Failures)
	}
	if rep.Offers != 40 || rep.AnsweredIn != 40 {
		t.Errorf("callees got %d offers and answered %d, want 40 and 40", rep.Offers, rep.AnsweredIn)
	}
}

// A user that was never online: every call fails with 404 gone, refused at
// once (an error to the offer, not a hang-up after admission).
func TestUnknownTargetCountedAs404(t *testing.T) {
	l := startGateway(t)
	rep := runLoad(t, Options{WS: l.WS, Users: 5, Rate: 20, Calls: 10, Target: "nobody-%d"})
	if rep.Attempted != 10 || rep.Answered != 0 || rep.Failed != 10 || rep.Failures["404 gone"] != 10 || rep.Refused != 10 {
		t.Errorf("attempted %d answered %d failed %d (refused %d) by %v, want 10 failed as \"404 gone\", all refused at once",
			rep.Attempted, rep.Answered, rep.Failed, rep.Refused, rep.Failures)
	}
}

// A user that was online and left: 480 gone. The tool's answer-only mode
// logs the callees in and out first.
func TestOfflineTargetCountedAs480(t *testing.T) {
	l := startGateway(t)
	runLoad(t, Options{WS: l.WS, Users: 0, Answer: true, AnswerUsers: 3, Target: "gone-%d",
		Duration: 100 * time.Millisecond})
	rep := runLoad(t, Options{WS: l.WS, Users: 3, Rate: 20, Calls: 6, Target: "gone-%d"})
	if rep.Failed != 6 || rep.Failures["480 gone"] != 6 {
		t.Errorf("failed %d by %v, want 6 failed as \"480 gone\"", rep.Failed, rep.Failures)
	}
}

// One user and a rate beyond its call cap: the tool keeps within the cap
// (the gateway refuses none with 503) and counts the calls it could not
// place.
func TestPerUserCapRespected(t *testing.T) {
	l := startGateway(t)
	rep := runLoad(t, Options{WS: l.WS, Users: 1, Rate: 10, Calls: 30, Hold: 500 * time.Millisecond,
		Target: "callee-%d", Answer: true})
	// 4 slots, each reusable after the hold: more than 4 calls are placed.
	if rep.Failed != 0 || rep.NotPlaced == 0 || rep.Answered+rep.NotPlaced != 30 || rep.Answered <= 4 {
		t.Errorf("answered %d failed %d (%v) not placed %d: want no failure, more than 4 answered, some not placed, sum 30",
			rep.Answered, rep.Failed, rep.Failures, rep.NotPlaced)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("the gateway refused messages: %v", rep.Errors)
	}
}

// The subcommand: progress on stderr, the text report, and a --json file
// that parses and matches.
func TestCommandJSONReport(t *testing.T) {
	l := startGateway(t)
	jf := filepath.Join(t.TempDir(), "load.json")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sigbridgeBin, "load", "--ws", l.WS, "--users", "4", "--rate", "10",
		"--duration", "2s", "--hold", "300ms", "--target", "peer-%d", "--answer", "--json", jf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sigbridge load: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if !strings.Contains(stderr.String(), "load    1s: attempted") {
		t.Errorf("no progress line on stderr")
	}
	b, err := os.ReadFile(jf)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("json report: %v\n%s", err, b)
	}
	if rep.Attempted != 20 || rep.Answered != 20 || rep.Setup.Count != 20 || rep.Target != "peer-%d" || rep.Users != 4 {
		t.Errorf("json report %+v: want 20 attempted and answered, target peer-%%d, 4 users", rep)
	}
	want := "attempted 20  answered 20  failed 0 (refused at once 0, failed after admission 0)  not placed 0"
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("text report lacks %q", want)
	}
}

// Bad flags are refused before anything connects.
func TestValidate(t *testing.T) {
	good := Options{WS: "ws://127.0.0.1:1/ws", Users: 2, Target: "callee-%d", Answer: true}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	for name, o := range map[string]Options{
		"no ws":             {Users: 1, Target: "x"},
		"http url":          {WS: "http://h/ws", Users: 1, Target: "x"},
		"no target":         {WS: "ws://h/ws", Users: 1},
		"two verbs":         {WS: "ws://h/ws", Users: 1, Target: "a-%d-%d"},
		"other verb":        {WS: "ws://h/ws", Users: 1, Target: "a-%s"},
		"user pattern":      {WS: "ws://h/ws", Users: 1, Target: "x", UserPattern: "fixed"},
		"answer sip":        {WS: "ws://h/ws", Users: 1, Target: "sip:uas@h", Answer: true},
		"answer one callee": {WS: "ws://h/ws", Users: 2, Target: "bob", Answer: true},
		"token many users":  {WS: "ws://h/ws", Users: 2, Target: "x", Token: "t"},
		"media":             {WS: "ws://h/ws", Users: 1, Target: "x", Media: "video"},
		"zero users":        {WS: "ws://h/ws", Target: "x"},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// With ws.token_secret, the tool mints a token per user (callers and
// callees); a wrong secret is refused at the handshake and the run fails
// before placing anything. A given token logs in its own subject.
func TestTokens(t *testing.T) {
	ws := startTokenGateway(t, "s3cret-for-load")
	rep := runLoad(t, Options{WS: ws, Users: 3, Rate: 20, Calls: 6, Hold: 200 * time.Millisecond,
		Target: "callee-%d", Answer: true, TokenSecret: "s3cret-for-load"})
	if rep.Answered != 6 || rep.Failed != 0 {
		t.Errorf("with minted tokens: answered %d failed %d (%v), want 6 and 0", rep.Answered, rep.Failed, rep.Failures)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Run(ctx, Options{WS: ws, Users: 1, Calls: 1, Target: "x", TokenSecret: "wrong"}, tWriter{t})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: got %v, want a 401 handshake error", err)
	}
	r := &runner{o: Options{TokenSecret: "s3cret-for-load"}}
	tok, err := r.token("solo")
	if err != nil {
		t.Fatal(err)
	}
	// The callee logs in (minted token), the solo caller with a given one.
	callee := startAnswering(t, ws, "callee-0", "s3cret-for-load")
	rep = runLoad(t, Options{WS: ws, Users: 1, Rate: 5, Calls: 2, Hold: 100 * time.Millisecond,
		Target: "callee-0", Token: tok})
	if rep.Answered != 2 {
		t.Errorf("with a given token: answered %d (%v), want 2", rep.Answered, rep.Failures)
	}
	callee()
}

// startAnswering runs an answer-only load run for one callee in the
// background; the returned function ends it.
func startAnswering(t *testing.T, ws, name, secret string) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, err := Run(ctx, Options{WS: ws, Users: 0, Answer: true, AnswerUsers: 1, Target: name,
			TokenSecret: secret, Duration: time.Minute, OnReady: func() { close(ready) }}, tWriter{t})
		if err != nil {
			t.Errorf("answering %s: %v", name, err)
		}
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatalf("the answering run for %s ended before it was logged in", name)
	}
	return func() { cancel(); <-done }
}
