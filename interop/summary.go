package interop

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Cell summarises the results of one caller × callee pair.
type Cell struct {
	Caller, Callee Dialect
	Bridged        bool // false: the gateway does not bridge this pair
	Run            int  // scenarios run (passed + failed)
	Passed         int
	Failed         int
	Known          int // known failures (XFAIL)
	Unsupported    int
	// Media is the time to media of the pair's first passing answered
	// call (its audio call when there is one); zero if none.
	Media time.Duration `json:"-"`
}

// Cells returns the matrix cells, rows by caller then columns by callee, in Dialects order.
func Cells(rs []Result) [][]Cell {
	out := make([][]Cell, len(Dialects))
	for i, from := range Dialects {
		out[i] = make([]Cell, len(Dialects))
		for j, to := range Dialects {
			out[i][j] = cell(rs, from, to)
		}
	}
	return out
}

func cell(rs []Result, from, to Dialect) Cell {
	c := Cell{Caller: from, Callee: to, Bridged: Bridged(from, to)}
	for _, r := range rs {
		if f, t := r.Pair(); f != from || t != to || r.Control {
			continue
		}
		switch r.Status {
		case Pass:
			c.Run++
			c.Passed++
			c.noteMedia(r)
		case Fail:
			c.Run++
			c.Failed++
		case KnownFailure:
			c.Run++
			c.Known++
		default:
			c.Unsupported++
		}
	}
	return c
}

func (c *Cell) noteMedia(r Result) {
	if r.Timings.Media == 0 {
		return
	}
	if c.Media == 0 || strings.HasSuffix(r.Scenario, "/answered-audio") {
		c.Media = r.Timings.Media
	}
}

// Verdict is the cell's one-word state: "pass", "fail", "xfail" (every
// scenario run passed but for known failures), "unsupported", "not
// bridged" or "not run". A pair sigbridge does not bridge by design is
// "not bridged" unless a probe of it passed or failed.
func (c Cell) Verdict() string {
	switch {
	case c.Failed > 0:
		return "fail"
	case c.Known > 0:
		return "xfail"
	case c.Passed > 0:
		return "pass"
	case !c.Bridged:
		return "not bridged"
	case c.Unsupported > 0:
		return "unsupported"
	}
	return "not run"
}

// Text is the cell as the table shows it.
func (c Cell) Text() string {
	switch v := c.Verdict(); v {
	case "pass", "fail", "xfail":
		s := fmt.Sprintf("%s %d/%d", strings.ToUpper(v), c.Passed, c.Run)
		if c.Media > 0 {
			s += " " + fmtDuration(c.Media)
		}
		if c.Unsupported > 0 {
			s += fmt.Sprintf(" (+%d n/a)", c.Unsupported)
		}
		return s
	case "unsupported":
		return "n/a: unsupported"
	case "not bridged":
		if c.Unsupported > 0 {
			return "n/a: not bridged"
		}
		return v
	default:
		return v
	}
}

// fmtDuration prints a duration for people: 850ms, 1.16s.
func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// Totals counts the results by status.
type Totals struct {
	Passed, Failed, Unsupported int
	Known                       int `json:"KnownFailures"`
}

// Count counts the results.
func Count(rs []Result) Totals {
	var t Totals
	for _, r := range rs {
		switch r.Status {
		case Pass:
			t.Passed++
		case Fail:
			t.Failed++
		case KnownFailure:
			t.Known++
		default:
			t.Unsupported++
		}
	}
	return t
}

// MarshalJSON adds the verdict and the cell text.
func (c Cell) MarshalJSON() ([]byte, error) {
	type plain Cell
	return json.Marshal(struct {
		plain
		Media   float64 `json:"ttMediaMs"`
		Verdict string  `json:"verdict"`
		Text    string  `json:"text"`
	}{plain(c), ms(c.Media), c.Verdict(), c.Text()})
}
