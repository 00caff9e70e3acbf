package sip

import (
	"strconv"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

// reasonValueBefore is reasonHeader's value as it was built before
// (strconv.Itoa, quoteDisplayName, +=).
func reasonValueBefore(r gateway.Reason) string {
	v := "Q.850;cause=16"
	if r.Code >= 300 && r.Code < 700 {
		v = "SIP;cause=" + strconv.Itoa(r.Code)
	}
	text := r.Condition
	if r.Text != "" {
		text = r.Text
	}
	if text != "" && checkHeaderValue(text) == nil {
		v += ";text=" + quoteDisplayName(text)
	}
	return v
}

// TestReasonHeaderAsBefore checks reasonHeader's value against the way it
// was built before, and that a hang-up's Reason costs one string.
func TestReasonHeaderAsBefore(t *testing.T) {
	reasons := []gateway.Reason{{}, gateway.ReasonInternal, ReasonFlowClosed, {Code: 200}, {Code: 299}, {Code: 300},
		{Code: 486, Condition: gateway.CondBusy}, {Code: 699, Text: `a "quoted" \\ text`}, {Code: 700, Text: "x"},
		{Condition: "bad\r\nVia: x"}, {Code: 487, Text: "bad\x00"}, {Condition: gateway.CondSuccess}}
	for _, r := range reasons {
		h := reasonHeader(r)
		if got, want := h.Value(), reasonValueBefore(r); got != want || h.Name() != "Reason" {
			t.Errorf("%+v: %s: %q, want %q", r, h.Name(), got, want)
		}
	}
	r := gateway.Reason{Code: 487, Condition: gateway.CondSuccess}
	if n := testing.AllocsPerRun(100, func() { reasonHeader(r) }); n != 2 { // the value, the header
		t.Fatalf("reasonHeader allocates %v times", n)
	}
}

// TestStatusLabel checks statusLabel against strconv.Itoa.
func TestStatusLabel(t *testing.T) {
	for code := -1; code < 1000; code++ {
		if got := statusLabel(code); got != strconv.Itoa(code) {
			t.Fatalf("statusLabel(%d) = %q", code, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = statusLabel(487) }); n != 0 {
		t.Fatalf("statusLabel allocates %v times", n)
	}
}
