package interop

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestBaresipClosed(t *testing.T) {
	for param, want := range map[string]string{
		"Connection reset by peer": "success",
		"":                         "success",
		"486 Busy Here":            "busy",
		"603 Decline":              "decline",
		"488 Not Acceptable Here":  "incompatible-parameters",
		"Function not implemented": "general-error", // a digest challenge it cannot answer
	} {
		if got := baresipClosed(param); got.Kind != EvEnded || got.Reason != want {
			t.Errorf("baresipClosed(%q) = %v, want ended %s", param, got, want)
		}
	}
}

func TestReadNetstring(t *testing.T) {
	br := bufio.NewReader(strings.NewReader(`5:hello,14:{"event":true},x:`))
	for _, want := range []string{"hello", `{"event":true}`} {
		got, err := readNetstring(br)
		if err != nil || string(got) != want {
			t.Fatalf("readNetstring = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readNetstring(br); err == nil {
		t.Error("a bad length was accepted")
	}
}

// TestLingerDeadline: a scenario that lingers past the dialog probes gets
// that time on top of its deadline.
func TestLingerDeadline(t *testing.T) {
	dep := Deployment{ProbeInterval: 15 * time.Second}
	s := Scenario{Name: "x", Expect: Answered, Steps: []Step{Linger}}
	if got, want := s.deadline(dep), DefaultDeadline+45*time.Second; got != want {
		t.Errorf("deadline %v, want %v", got, want)
	}
}
