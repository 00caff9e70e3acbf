package load

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Report is the outcome of a run (also its --json form).
type Report struct {
	WS       string  `json:"ws"`
	Target   string  `json:"target"`
	Users    int     `json:"users"`
	Callees  int     `json:"callees"` // answering users (--answer)
	Rate     float64 `json:"rate"`
	HoldMS   int64   `json:"hold_ms"`
	Started  string  `json:"started"`
	PlacingS float64 `json:"placing_s"` // how long calls were placed
	ElapsedS float64 `json:"elapsed_s"` // placing and drain

	// Attempted calls had their video-offer sent; Answered got a
	// video-answer; Failed got error/hang-up (or nothing) instead.
	// Attempted = Answered + Failed.
	Attempted int `json:"attempted"`
	Answered  int `json:"answered"`
	Failed    int `json:"failed"`
	// Failures counts failed calls by the gateway's "code reason"
	// ("480 gone") or by the tool's own reason ("timeout: no answer
	// within 10s", "connection closed", "unfinished at drain end").
	Failures map[string]int `json:"failures"`
	// Refused counts the failed calls whose video-offer got an `error`
	// reply: the gateway refused them at once (shed while overloaded, a
	// per-user limit, an unknown target) before any callee saw them.
	// Failed - Refused calls failed after the gateway admitted them.
	Refused int `json:"refused"`
	// NotPlaced counts calls that were due while every user was at its
	// call cap or message budget: the run needs more users (or the
	// gateway higher limits).
	NotPlaced int `json:"not_placed"`
	// Dropped counts answered calls the far end hung up before the hold
	// ended, by "code reason".
	Dropped map[string]int `json:"dropped"`
	// Errors counts error messages that did not end a call (a refused
	// candidate, a rate limit), by "code reason ref".
	Errors map[string]int `json:"errors"`
	// Setup is the latency video-offer sent → video-answer received.
	Setup Latency `json:"setup_ms"`
	// Offers and AnsweredIn are the answering callees' incoming calls and
	// their answers (with --answer); HungUpIn the answered ones the caller's
	// side then hung up (the gateway's hang-up reached the callee). A call
	// that ended on the caller's leg ended on the callee's too when
	// HungUpIn equals AnsweredIn once the run is over.
	Offers     int `json:"callee_offers"`
	AnsweredIn int `json:"callee_answered"`
	HungUpIn   int `json:"callee_hung_up"`
	// Self is the tool's own Go runtime while placing and draining: its
	// collections and how long its goroutines waited for a CPU.
	Self SelfStats `json:"tool_runtime"`
}

// Latency summarises setup times in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	// Within is the share of the calls answered within each of
	// WithinBoundsMS: the gateway's sigbridge_call_setup_seconds buckets up
	// to 50 ms, so that the tool's figures and the gateway's own can be
	// set side by side (how much of the tail is outside the gateway).
	Within []Share `json:"within,omitempty"`
}

// Share is the share (0-1) of the answered calls set up within LEMS
// milliseconds.
type Share struct {
	LEMS  float64 `json:"le_ms"`
	Share float64 `json:"share"`
}

// WithinBoundsMS are the bounds of Latency.Within, in milliseconds: the
// gateway's setup histogram buckets (gateway.SetupBuckets) up to 50 ms.
var WithinBoundsMS = []float64{1, 2, 5, 10, 20, 50}

// stats collects a run's outcomes from many goroutines.
type stats struct {
	mu                                     sync.Mutex
	attempted, answered, failed, notPlaced int
	refused                                int
	offers, answeredIn, hungUpIn           int
	failures, dropped, errors              map[string]int
	setup                                  []time.Duration
	window                                 []time.Duration // since the last progress line
}

func newStats() *stats {
	return &stats{failures: map[string]int{}, dropped: map[string]int{}, errors: map[string]int{}}
}

func (s *stats) add(f func(s *stats)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

func (s *stats) answer(d time.Duration) {
	s.add(func(s *stats) {
		s.answered++
		s.setup = append(s.setup, d)
		s.window = append(s.window, d)
	})
}

func (s *stats) fail(reason string) {
	s.add(func(s *stats) { s.failed++; s.failures[reason]++ })
}

// refuse records a call whose offer got an error reply (refused at once).
func (s *stats) refuse(reason string) {
	s.add(func(s *stats) { s.failed++; s.refused++; s.failures[reason]++ })
}

// reasonOf names the gateway's reason for m: "480 gone".
func reasonOf(m inMsg) string {
	r := fmt.Sprintf("%d %s", m.Code, m.Reason)
	if m.Code == 0 && m.Reason == "" {
		r = m.Type + " without code"
	}
	return r
}

// summarize returns the latency summary of ds.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	pick := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	l := Latency{Count: len(s), P50: pick(0.50), P95: pick(0.95), P99: pick(0.99), Max: ms(s[len(s)-1])}
	for _, b := range WithinBoundsMS {
		n, _ := slices.BinarySearch(s, time.Duration(b*float64(time.Millisecond))+1) // ≤ b
		l.Within = append(l.Within, Share{LEMS: b, Share: float64(n) / float64(len(s))})
	}
	return l
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// progress returns the progress line and resets the window.
func (s *stats) progress(elapsed time.Duration, inFlight int) string {
	s.mu.Lock()
	w := summarize(s.window)
	s.window = s.window[:0]
	line := fmt.Sprintf("load %4.0fs: attempted %d answered %d failed %d not-placed %d in-flight %d | last interval: %d answers, setup p50 %.1fms p99 %.1fms max %.1fms",
		elapsed.Seconds(), s.attempted, s.answered, s.failed, s.notPlaced, inFlight, w.Count, w.P50, w.P99, w.Max)
	s.mu.Unlock()
	return line
}

// report fills r's counters.
func (s *stats) report(r *Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Attempted, r.Answered, r.Failed, r.NotPlaced = s.attempted, s.answered, s.failed, s.notPlaced
	r.Refused = s.refused
	r.Offers, r.AnsweredIn, r.HungUpIn = s.offers, s.answeredIn, s.hungUpIn
	r.Failures, r.Dropped, r.Errors = maps.Clone(s.failures), maps.Clone(s.dropped), maps.Clone(s.errors)
	r.Setup = summarize(s.setup)
}

// WriteText prints the final report.
func (r *Report) WriteText(w io.Writer) error {
	if r.Users == 0 {
		_, err := fmt.Fprintf(w, "sigbridge load: %s, answer only: %d users %s, %.1fs\nanswering callees: %d incoming calls, %d answered, %d of them hung up by the caller's side\n",
			r.WS, r.Callees, r.Target, r.ElapsedS, r.Offers, r.AnsweredIn, r.HungUpIn)
		return err
	}
	_, err := fmt.Fprintf(w, `sigbridge load: %s → %s, %d users, %.0f calls/s, hold %s
placing %.1fs, total %.1fs (with drain)
attempted %d  answered %d  failed %d (refused at once %d, failed after admission %d)  not placed %d
setup latency (offer sent → answer received, %d calls): p50 %.1fms  p95 %.1fms  p99 %.1fms  max %.1fms
`, r.WS, r.Target, r.Users, r.Rate, time.Duration(r.HoldMS)*time.Millisecond, r.PlacingS, r.ElapsedS,
		r.Attempted, r.Answered, r.Failed, r.Refused, r.Failed-r.Refused, r.NotPlaced, r.Setup.Count, r.Setup.P50, r.Setup.P95, r.Setup.P99, r.Setup.Max)
	if err != nil {
		return err
	}
	if len(r.Setup.Within) > 0 {
		fmt.Fprint(w, "answered within")
		for _, sh := range r.Setup.Within {
			fmt.Fprintf(w, "  %gms %.2f%%", sh.LEMS, sh.Share*100)
		}
		fmt.Fprintln(w, "  (the gateway's own view: sigbridge_call_setup_seconds on its /metrics)")
	}
	fmt.Fprintf(w, "the tool itself: %d GC cycles (%.1fms paused); its goroutines waited for a CPU p50 %.3fms p99 %.3fms p99.9 %.3fms max %.1fms (%d waits)\n",
		r.Self.GCCycles, r.Self.GCPauseMS, r.Self.SchedLatency.P50, r.Self.SchedLatency.P99, r.Self.SchedLatency.P999,
		r.Self.SchedLatency.Max, r.Self.SchedLatency.Count)
	if r.Offers > 0 {
		fmt.Fprintf(w, "answering callees: %d incoming calls, %d answered, %d of them hung up by the caller's side\n",
			r.Offers, r.AnsweredIn, r.HungUpIn)
	}
	for _, sec := range []struct {
		title string
		m     map[string]int
	}{{"failed by reason", r.Failures}, {"answered, then hung up by the far end", r.Dropped}, {"other errors", r.Errors}} {
		if len(sec.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", sec.title)
		for _, k := range slices.Sorted(maps.Keys(sec.m)) {
			fmt.Fprintf(w, "  %-40s %d\n", k, sec.m[k])
		}
	}
	if r.NotPlaced > 0 {
		fmt.Fprintln(w, "not placed: every user was at its call cap or message budget; raise --users (or the gateway's limits and --max-calls-per-user/--ws-rate)")
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
