package xmppwrite

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"time"

	"mellium.im/xmpp"
)

// ErrWrite marks a failed write: the stream may hold part of a stanza and
// mellium refuses every later write, so the caller should close it.
var ErrWrite = errors.New("xmppwrite: write failed")

// Writer writes stanzas to one session, one at a time.
type Writer struct {
	s       *xmpp.Session
	conn    net.Conn // the connection below s, whose write deadline Writer owns
	timeout time.Duration
	turn    chan struct{} // held by the one caller writing
}

// New returns a Writer for s, whose connection is conn; each write may
// take at most timeout.
func New(s *xmpp.Session, conn net.Conn, timeout time.Duration) *Writer {
	return &Writer{s: s, conn: conn, timeout: timeout, turn: make(chan struct{}, 1)}
}

// Send writes the first element of r. It waits for its turn until ctx is
// done (then nothing is written and ctx's error is returned); a write that
// fails returns an error wrapping ErrWrite.
func (w *Writer) Send(ctx context.Context, r xml.TokenReader) error {
	select {
	case w.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.turn }()
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	defer func() { _ = w.conn.SetWriteDeadline(time.Time{}) }()
	if err := w.s.Send(context.Background(), r); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}
