package interop

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestBrowserToBrowser(t *testing.T) {
	l := startLocal(t)
	scs, err := Select(Matrix(), `^browser-to-browser/[^c]|^browser-to-browser/callee-vanishes$|^browser-to-browser/cancelled$`)
	if err != nil || len(scs) != 9 {
		t.Fatalf("select: %v (%d scenarios, want the 9 of the pion pair)", err, len(scs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, r := range Run(ctx, l.Deployment, scs) {
		if !r.Passed() {
			t.Errorf("%s: %s: %s", r.Scenario, r.Status, r.Reason)
			for _, line := range r.Transcript {
				t.Logf("  %8v %s %s %s", line.At.Round(time.Millisecond), line.Party, line.Dir, line.Text)
			}
			continue
		}
		t.Logf("%s: pass ringing %v answer %v media %v", r.Scenario, r.Timings.Ringing, r.Timings.Answer, r.Timings.Media)
	}
}

func TestNegativeControl(t *testing.T) {
	l := startLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := RunOne(ctx, l.Deployment, NegativeControl())
	if r.Passed() {
		t.Fatalf("the negative control passed: the media check cannot fail")
	}
	if !strings.Contains(r.Reason, "no ICE connectivity") {
		t.Fatalf("reason %q, want no ICE connectivity", r.Reason)
	}
	if r.Timings.Answer == 0 {
		t.Errorf("the call was not answered: the control must fail on media, not signaling")
	}
	t.Logf("negative control: %s: %s", r.Status, r.Reason)
}
