package interop

import (
	"encoding/json"
	"strings"
	"time"
)

// Status is the verdict of one scenario.
type Status string

// Statuses.
const (
	Pass        Status = "pass"
	Fail        Status = "fail"
	Unsupported Status = "unsupported" // the deployment has no such dialect: not run, not a pass
	// KnownFailure is a failure the catalogue expects from a documented
	// limitation of the gateway (Scenario.Known): shown as XFAIL, not a
	// pass, and not counted as a failure in the exit status.
	KnownFailure Status = "known-failure"
)

// Timings are measured from the caller's first offer. Zero means "not
// reached".
type Timings struct {
	Ringing time.Duration `json:"ttRinging"` // the caller saw ringing
	Answer  time.Duration `json:"ttAnswer"`  // the caller got the answer
	Media   time.Duration `json:"ttMedia"`   // both media ends connected and counted packets from each other
	End     time.Duration `json:"ttEnd"`     // the scenario's expected end state was reached
	Total   time.Duration `json:"total"`     // the whole scenario, set-up and tear-down included
}

// MarshalJSON writes durations as milliseconds.
func (t Timings) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]float64{
		"ttRingingMs": ms(t.Ringing), "ttAnswerMs": ms(t.Answer), "ttMediaMs": ms(t.Media), "ttEndMs": ms(t.End),
		"totalMs": ms(t.Total),
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// MediaReport is what one media end counted.
type MediaReport struct {
	ICE       string `json:"ice"`       // last ICE connection state
	Connected bool   `json:"connected"` // ICE reached connected
	Audio     int    `json:"audioPackets"`
	Video     int    `json:"videoPackets"`
	Data      int    `json:"dataMessages"`
	// RFC 4733 telephone-event packets and the digits they carried, in
	// order (ends that cannot read them, such as Chromium, report none).
	TonePackets int    `json:"tonePackets,omitempty"`
	Tones       string `json:"tones,omitempty"`
}

// Result is the outcome of one scenario.
type Result struct {
	Scenario string  `json:"scenario"`
	Caller   string  `json:"caller"`
	Callee   string  `json:"callee"`
	Media    Media   `json:"media"`
	Expect   Outcome `json:"expect"`
	Control  bool    `json:"control,omitempty"`
	Status   Status  `json:"status"`
	Reason   string  `json:"reason,omitempty"` // why it failed or was not run
	Known    string  `json:"known,omitempty"`  // the known limitation behind a KnownFailure
	Timings  Timings `json:"timings"`
	// Ended is how the gateway ended the call for the party that was hung
	// up (condition and code), when it did.
	Ended string `json:"ended,omitempty"`
	// DTMF says how the callee got the digits of the scenario's DTMF
	// steps (in-band, counting telephone-event packets, or as signaling).
	DTMF string `json:"dtmf,omitempty"`
	// CallerNode and CalleeNode are the WebSocket URLs of the nodes the
	// browser-dialect parties used, when the deployment has several.
	CallerNode  string       `json:"callerNode,omitempty"`
	CalleeNode  string       `json:"calleeNode,omitempty"`
	CallerMedia *MediaReport `json:"callerMedia,omitempty"`
	CalleeMedia *MediaReport `json:"calleeMedia,omitempty"`
	Transcript  []Line       `json:"transcript,omitempty"`
}

// Passed reports whether the scenario passed.
func (r Result) Passed() bool { return r.Status == Pass }

// Pair returns the matrix cell of the result.
func (r Result) Pair() (caller, callee Dialect) {
	return partyDialect(r.Caller), partyDialect(r.Callee)
}

// partyDialect reads the dialect back from a Party.String.
func partyDialect(s string) Dialect {
	d, _, _ := strings.Cut(s, "/")
	return Dialect(d)
}

// AllPassed reports whether every result passed (unsupported ones count
// as not passed).
func AllPassed(rs []Result) bool {
	for _, r := range rs {
		if !r.Passed() {
			return false
		}
	}
	return len(rs) > 0
}

func newResult(s Scenario) Result {
	return Result{Scenario: s.Name, Caller: s.Caller.String(), Callee: s.Callee.String(), Media: s.Media,
		Expect: s.Expect, Control: s.Control}
}
