package logbuf

import (
	"io"
	"sync"
	"time"
)

// Delay is how long a line may wait in the buffer at most.
const Delay = 100 * time.Millisecond

// MaxBuffer is the most the buffer holds: a line that would take it over
// writes the pending lines and itself at once.
const MaxBuffer = 64 << 10

// Writer batches writes to w (see the package doc). Its methods are safe
// for concurrent use; each Write's bytes stay together (slog writes a
// record in one Write).
type Writer struct {
	w     io.Writer
	delay time.Duration

	mu     sync.Mutex
	buf    []byte
	armed  bool // the timer runs: lines wait for it
	closed bool // Close ran: writes go through
	timer  *time.Timer
}

// New returns a Writer that writes to w within Delay.
func New(w io.Writer) *Writer { return newWriter(w, Delay) }

func newWriter(w io.Writer, delay time.Duration) *Writer {
	b := &Writer{w: w, delay: delay}
	b.timer = time.AfterFunc(time.Hour, b.tick)
	b.timer.Stop()
	return b
}

// Write writes p at once when the writer is quiet, else buffers it. The
// error of a buffered line's later write is not reported (log handlers
// ignore it).
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if !b.armed {
		// Quiet: this line goes out now, the next ones within the
		// interval wait for the timer.
		b.armed = true
		b.timer.Reset(b.delay)
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > MaxBuffer {
		b.flushLocked()
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// tick ends an interval: pending lines go out and the next interval
// starts; with none pending the writer is quiet again.
func (b *Writer) tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !b.armed {
		return
	}
	if len(b.buf) == 0 {
		b.armed = false
		return
	}
	b.flushLocked()
	b.timer.Reset(b.delay)
}

func (b *Writer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	if cap(b.buf) > MaxBuffer {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

// Flush writes what is pending.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// Close writes what is pending; later writes go through at once.
func (b *Writer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.armed = false
	b.timer.Stop()
	return b.flushLocked()
}
