package interop

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// failureLines is how many transcript lines the text report shows for a
// failure: the last ones, which led to it.
const failureLines = 8

// WriteText prints the matrix (rows: caller, columns: callee), one line
// per scenario, and for each failure its reason and the last protocol
// messages before it.
func WriteText(w io.Writer, title string, rs []Result) error {
	tw := &errWriter{w: w}
	t := Count(rs)
	tw.printf("sigbridge interop: %s: %d scenarios, %d passed, %d failed, %d known failures, %d unsupported\n\n",
		title, len(rs), t.Passed, t.Failed, t.Known, t.Unsupported)
	writeMatrix(tw, rs)
	tw.printf("\n")
	writeScenarioLines(tw, rs)
	writeFailures(tw, rs, Fail, "failures")
	writeFailures(tw, rs, KnownFailure, "known failures (XFAIL: known limitations of the gateway, not counted as failures)")
	return tw.err
}

func writeMatrix(w *errWriter, rs []Result) {
	tab := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprint(tab, "caller \\ callee")
	for _, d := range Dialects {
		fmt.Fprintf(tab, "\t%s", d)
	}
	fmt.Fprintln(tab)
	for i, row := range Cells(rs) {
		fmt.Fprint(tab, Dialects[i])
		for _, c := range row {
			fmt.Fprintf(tab, "\t%s", c.Text())
		}
		fmt.Fprintln(tab)
	}
	if err := tab.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// writeScenarioLines prints one line per scenario run, then the ones not
// run, counted by reason.
func writeScenarioLines(w *errWriter, rs []Result) {
	tab := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var reasons []string
	notRun := map[string]int{}
	for _, r := range rs {
		if r.Status == Unsupported {
			if notRun[r.Reason] == 0 {
				reasons = append(reasons, r.Reason)
			}
			notRun[r.Reason]++
			continue
		}
		fmt.Fprintf(tab, "%s\t%s\t%s\n", statusWord(r), r.Scenario, scenarioDetail(r))
	}
	for _, reason := range reasons {
		fmt.Fprintf(tab, "N/A\t%d scenarios\t%s\n", notRun[reason], reason)
	}
	if err := tab.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

func statusWord(r Result) string {
	switch r.Status {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case KnownFailure:
		return "XFAIL"
	}
	return "N/A"
}

// scenarioDetail is the timings of a pass or the reason of anything else.
func scenarioDetail(r Result) string {
	if r.Status == KnownFailure {
		return r.Reason + " [known: " + r.Known + "]"
	}
	if r.Status != Pass {
		return r.Reason
	}
	var parts []string
	add := func(name string, d time.Duration) {
		if d > 0 {
			parts = append(parts, name+" "+fmtDuration(d))
		}
	}
	add("ringing", r.Timings.Ringing)
	add("answer", r.Timings.Answer)
	add("media", r.Timings.Media)
	if r.Ended != "" {
		parts = append(parts, r.Ended)
	}
	if r.DTMF != "" {
		parts = append(parts, "DTMF: "+r.DTMF)
	}
	if n := nodesDetail(r); n != "" {
		parts = append(parts, n)
	}
	return strings.Join(parts, ", ")
}

func writeFailures(w *errWriter, rs []Result, status Status, title string) {
	first := true
	for _, r := range rs {
		if r.Status != status {
			continue
		}
		if first {
			w.printf("\n%s:\n", title)
			first = false
		}
		w.printf("\n%s: %s\n", r.Scenario, scenarioDetail(r))
		lines := r.Transcript
		if len(lines) > failureLines {
			lines = lines[len(lines)-failureLines:]
		}
		for _, l := range lines {
			w.printf("  %8s %-6s %-4s %s\n", fmtDuration(l.At), l.Party, l.Dir, shorten(l.Text, 160))
		}
	}
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// nodesDetail names the nodes of a scenario's browser parties, when the
// deployment has several ("caller on 127.0.0.1:8081, callee on ...").
func nodesDetail(r Result) string {
	var parts []string
	for _, n := range []struct{ who, url string }{{"caller", r.CallerNode}, {"callee", r.CalleeNode}} {
		if n.url == "" {
			continue
		}
		host := n.url
		if u, err := url.Parse(n.url); err == nil && u.Host != "" {
			host = u.Host
		}
		parts = append(parts, n.who+" on "+host)
	}
	return strings.Join(parts, ", ")
}
