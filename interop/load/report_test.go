package load

import (
	"strings"
	"testing"
	"time"
)

// TestSummarizeWithin checks the shares within the gateway's bucket
// bounds: a setup exactly on a bound counts as within it, one a
// nanosecond over does not.
func TestSummarizeWithin(t *testing.T) {
	ds := []time.Duration{
		500 * time.Microsecond, time.Millisecond, time.Millisecond + 1, 3 * time.Millisecond,
		5 * time.Millisecond, 7 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond,
	}
	l := summarize(ds)
	want := map[float64]float64{1: 2.0 / 8, 2: 3.0 / 8, 5: 5.0 / 8, 10: 6.0 / 8, 20: 6.0 / 8, 50: 7.0 / 8}
	if len(l.Within) != len(WithinBoundsMS) {
		t.Fatalf("within: %d shares, want %d", len(l.Within), len(WithinBoundsMS))
	}
	for _, sh := range l.Within {
		if sh.Share != want[sh.LEMS] {
			t.Errorf("within %g ms: %g, want %g", sh.LEMS, sh.Share, want[sh.LEMS])
		}
	}
	if l.Count != 8 || l.Max != 60 {
		t.Errorf("count %d max %g, want 8 and 60", l.Count, l.Max)
	}
	if summarize(nil).Within != nil {
		t.Error("no calls: shares reported")
	}
	var b strings.Builder
	r := &Report{Users: 1, Setup: l}
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "answered within  1ms 25.00%  2ms 37.50%  5ms 62.50%") {
		t.Errorf("text report lacks the shares:\n%s", b.String())
	}
}
