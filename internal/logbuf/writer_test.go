package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write to it as one element.
type sink struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{} // gets a value per write, if not nil
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.writes = append(s.writes, string(p))
	s.mu.Unlock()
	if s.wrote != nil {
		s.wrote <- struct{}{}
	}
	return len(p), nil
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

func wantWrites(t *testing.T, s *sink, want ...string) {
	t.Helper()
	got := s.got()
	if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
		t.Fatalf("writes %.300q, want %.300q", got, want)
	}
}

// TestWriterBatches drives the intervals by hand (tick): a quiet writer
// writes at once, lines within the interval wait for its end and go out
// in one write, an interval without lines makes it quiet again.
func TestWriterBatches(t *testing.T) {
	s := &sink{}
	w := newWriter(s, time.Hour)
	defer w.Close()
	w.Write([]byte("a\n"))
	wantWrites(t, s, "a\n")
	w.Write([]byte("b\n"))
	w.Write([]byte("c\n"))
	wantWrites(t, s, "a\n")
	w.tick()
	wantWrites(t, s, "a\n", "b\nc\n")
	w.Write([]byte("d\n")) // the interval after a flush still batches
	wantWrites(t, s, "a\n", "b\nc\n")
	w.tick()
	wantWrites(t, s, "a\n", "b\nc\n", "d\n")
	w.tick() // nothing came: quiet again
	w.Write([]byte("e\n"))
	wantWrites(t, s, "a\n", "b\nc\n", "d\n", "e\n")
	w.Write([]byte("f\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, s, "a\n", "b\nc\n", "d\n", "e\n", "f\n")
}

// TestWriterBounded: a line that would take the buffer over MaxBuffer
// writes the pending lines and itself at once, in order.
func TestWriterBounded(t *testing.T) {
	s := &sink{}
	w := newWriter(s, time.Hour)
	defer w.Close()
	w.Write([]byte("first\n"))
	big := strings.Repeat("x", MaxBuffer/2) + "\n"
	w.Write([]byte(big))
	w.Write([]byte(big))
	wantWrites(t, s, "first\n", big, big) // the pending one, then the line itself
	w.Write([]byte("after\n"))
	w.tick()
	wantWrites(t, s, "first\n", big, big, "after\n")
}

// TestWriterClose: Close writes what is pending, and lines after it go
// through at once (serve's last records).
func TestWriterClose(t *testing.T) {
	s := &sink{}
	w := newWriter(s, time.Hour)
	w.Write([]byte("a\n"))
	w.Write([]byte("b\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, s, "a\n", "b\n")
	w.Write([]byte("c\n"))
	w.tick() // a timer that fired as Close ran changes nothing
	wantWrites(t, s, "a\n", "b\n", "c\n")
}

// TestWriterTimerFlushes: with a real timer a buffered line goes out
// without Flush (waits for the write itself, not for a time).
func TestWriterTimerFlushes(t *testing.T) {
	s := &sink{wrote: make(chan struct{}, 4)}
	w := newWriter(s, time.Millisecond)
	defer w.Close()
	w.Write([]byte("a\n"))
	<-s.wrote
	w.Write([]byte("b\n"))
	select {
	case <-s.wrote:
	case <-time.After(time.Minute):
		t.Fatal("the buffered line never went out")
	}
	if got := s.got(); len(got) != 2 || got[1] != "b\n" {
		t.Fatalf("writes %q", got)
	}
}

// TestWriterConcurrent: lines written at once from many goroutines all
// go out, each whole, each once.
func TestWriterConcurrent(t *testing.T) {
	var out bytes.Buffer
	s := &lockedBuffer{b: &out}
	w := newWriter(s, time.Millisecond)
	const goroutines, lines = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "g%d line %d %s\n", g, i, strings.Repeat("-", i%200))
			}
		})
	}
	wg.Wait()
	w.Close()
	seen := map[string]bool{}
	for l := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if seen[l] {
			t.Fatalf("line %q twice", l)
		}
		seen[l] = true
	}
	for g := range goroutines {
		for i := range lines {
			l := fmt.Sprintf("g%d line %d %s", g, i, strings.Repeat("-", i%200))
			if !seen[l] {
				t.Fatalf("line %q missing or torn", l)
			}
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
