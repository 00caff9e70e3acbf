package interop

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Line is one protocol message seen by a party, as the transcript keeps it.
type Line struct {
	At    time.Duration `json:"-"`     // since the scenario started (atMs in JSON)
	Party string        `json:"party"` // "caller" or "callee"
	Dir   string        `json:"dir"`   // "sent" (to the gateway) or "recv" (from it)
	Text  string        `json:"text"`  // the message, shortened
}

// Transcript is a bounded, concurrency-safe record of the protocol
// messages of one scenario: the first Max/2 and the last Max/2 lines are
// kept, the middle is counted.
type Transcript struct {
	mu      sync.Mutex
	start   time.Time
	max     int
	head    []Line
	tail    []Line // ring of the last max/2 lines once head is full
	next    int    // next write position in tail
	dropped int
}

// DefaultTranscriptLines bounds a transcript.
const DefaultTranscriptLines = 120

// maxLineText bounds one line's text.
const maxLineText = 600

// NewTranscript returns a transcript whose times count from start.
func NewTranscript(start time.Time, max int) *Transcript {
	if max < 2 {
		max = DefaultTranscriptLines
	}
	return &Transcript{start: start, max: max}
}

// Add records a message. party is "caller" or "callee", dir "sent" or
// "recv". Safe on a nil transcript.
func (t *Transcript) Add(party, dir, text string) {
	if t == nil {
		return
	}
	t.add(Line{At: time.Since(t.start), Party: party, Dir: dir, Text: shorten(text, maxLineText)})
}

func (t *Transcript) add(l Line) {
	t.mu.Lock()
	defer t.mu.Unlock()
	half := t.max / 2
	if len(t.head) < half {
		t.head = append(t.head, l)
		return
	}
	if len(t.tail) < t.max-half {
		t.tail = append(t.tail, l)
		return
	}
	t.tail[t.next] = l
	t.next = (t.next + 1) % len(t.tail)
	t.dropped++
}

// Lines returns the kept lines in time order (agents that report late,
// such as Chromium and SIPp, stamp their lines with the time they saw the
// message), with a marker line where lines were dropped.
func (t *Transcript) Lines() []Line {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	byTime := func(a, b Line) int { return cmp.Compare(a.At, b.At) }
	out := slices.SortedStableFunc(slices.Values(t.head), byTime)
	if t.dropped > 0 {
		out = append(out, Line{Party: "-", Dir: "-", Text: strconv.Itoa(t.dropped) + " lines dropped"})
	}
	tail := append(append([]Line(nil), t.tail[t.next:]...), t.tail[:t.next]...)
	slices.SortStableFunc(tail, byTime)
	return append(out, tail...)
}

// shorten keeps the first n bytes of s on one line: line breaks become
// " | " so that an SDP stays readable.
func shorten(s string, n int) string {
	s = strings.TrimRight(s, "\r\n")
	s = strings.ReplaceAll(s, "\r\n", " | ")
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// MarshalJSON writes At as milliseconds.
func (l Line) MarshalJSON() ([]byte, error) {
	type plain Line
	return json.Marshal(struct {
		AtMs float64 `json:"atMs"`
		plain
	}{ms(l.At), plain(l)})
}

// AddAt records a message seen at a given time (by a remote agent).
func (t *Transcript) AddAt(at time.Time, party, dir, text string) {
	if t == nil {
		return
	}
	t.add(Line{At: at.Sub(t.start), Party: party, Dir: dir, Text: shorten(text, maxLineText)})
}
