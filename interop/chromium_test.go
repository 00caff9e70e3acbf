package interop

import (
	"context"
	"testing"
	"time"
)

// TestChromiumCaller runs headless Chromium as the browser-dialect caller
// of every dialect (with a pion callee: a browser page, the harness's SIP
// UA, a Jingle client on the harness's Prosody), in a network namespace
// that holds only lo.
func TestChromiumCaller(t *testing.T) {
	if inLoopbackNetns(t) {
		return
	}
	l := startLocalXMPP(t)
	dep := l.Deployment
	dep.Chromium = chromiumPath(t)
	scs, err := Select(Matrix(), `chromium-`)
	if err != nil || len(scs) == 0 {
		t.Fatalf("select: %v (%d)", err, len(scs))
	}
	scs = append(scs, Scenario{Name: "browser-to-browser/chromium-hold-resume-av-data",
		Caller: Party{Dialect: Browser, Agent: Chromium}, Callee: Party{Dialect: Browser},
		Media: AudioVideoData, Expect: Answered, Steps: []Step{Hold, Resume}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ran := 0
	for _, r := range Run(ctx, dep, scs) {
		logResult(t, r)
		switch r.Status {
		case Fail:
			t.Errorf("%s: %s", r.Scenario, r.Reason)
		case Pass:
			ran++
		}
	}
	if ran != len(scs) {
		t.Errorf("%d of %d chromium scenarios passed (to browser, SIP, Jingle, and the hold/resume one)", ran, len(scs))
	}
}

func logResult(t *testing.T, r Result) {
	t.Helper()
	t.Logf("%s: %s %s ringing %v answer %v media %v", r.Scenario, r.Status, r.Reason, r.Timings.Ringing,
		r.Timings.Answer, r.Timings.Media)
	if r.DTMF != "" {
		t.Logf("  DTMF: %s", r.DTMF)
	}
	if r.Status == Fail {
		for _, line := range r.Transcript {
			t.Logf("  %8v %s %s %s", line.At.Round(time.Millisecond), line.Party, line.Dir, line.Text)
		}
	}
}
