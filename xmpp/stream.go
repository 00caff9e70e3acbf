package xmpp

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/internal/xmppwrite"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// stream is one live XML stream to the server: the mellium session, its
// framed connection, the IQs we wait for and a queue for replies that must
// not be written from the reading goroutine (refused stanzas).
type stream struct {
	a     *Adapter
	s     *xmpp.Session
	w     *xmppwrite.Writer // all our writes to s
	conn  *framedConn
	local jid.JID // the component domain or our full client JID
	iqs   *iqTracker
	async chan queued
	done  chan struct{}
	log   *slog.Logger
	once  sync.Once
}

func (a *Adapter) newStream(local jid.JID) *stream {
	return &stream{a: a, local: local, iqs: newIQTracker(), async: make(chan queued, 64),
		done: make(chan struct{}), log: a.log}
}

// serve reads the stream until it ends or ctx is done.
func (st *stream) serve(ctx context.Context) error {
	go st.writeAsync()
	stop := context.AfterFunc(ctx, st.close)
	defer stop()
	err := st.s.Serve(st)
	st.close()
	return err
}

// close ends the stream (once): closing tag, then the connection. A server
// that stopped reading gets closeTimeout for the closing tag.
func (st *stream) close() {
	st.once.Do(func() {
		close(st.done)
		t := time.AfterFunc(closeTimeout, func() { _ = st.conn.Close() })
		_ = st.s.Close()
		t.Stop()
		_ = st.conn.Close()
	})
}

// queued is a stanza waiting in the async queue, with its metric label.
type queued struct {
	r    xml.TokenReader
	kind string
}

// writeAsync sends queued replies until the stream ends.
func (st *stream) writeAsync() {
	for {
		select {
		case q := <-st.async:
			_ = st.send(context.Background(), q.r, q.kind)
		case <-st.done:
			return
		}
	}
}

// send writes one stanza. It is safe for concurrent use but must not be
// called from the stream's reading goroutine (HandleXMPP). Waiting for the
// stream's turn ends with ctx or sendTimeout (nothing written); a write
// that fails closes the stream, since it may have left part of a stanza on
// the wire and mellium refuses every later write: Run then reconnects and
// the calls on the stream end.
func (st *stream) send(ctx context.Context, r xml.TokenReader, kind string) error {
	if st.w == nil {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if err := st.w.Send(ctx, r); err != nil {
		if errors.Is(err, xmppwrite.ErrWrite) {
			st.log.Warn("xmpp write failed; closing the stream", "kind", kind, "err", err)
			st.close()
		}
		return fmt.Errorf("xmpp: send %s: %w", kind, err)
	}
	st.a.metrics.Message(dialect, "out", kind)
	return nil
}

// sendIQ sends an IQ set and calls done with its result, a timeout (no
// answer within timeout) or the end of the stream. done runs on another
// goroutine and must not block. It returns the IQ's id, with which
// iqTracker.forget drops it.
func (st *stream) sendIQ(iq stanza.IQ, payload xml.TokenReader, kind string, timeout time.Duration,
	done func(iqResult)) string {
	iq.ID, iq.Type = newID(), stanza.SetIQ
	st.iqs.add(iq.ID, iq.To, timeout, done)
	if err := st.send(context.Background(), iq.Wrap(payload), kind); err != nil {
		st.iqs.finish(iq.ID, iqResult{cond: condStreamLost, text: err.Error()})
	}
	return iq.ID
}

// errNotConnected is returned when sending on a stream without a session.
var errNotConnected = errors.New("xmpp: not connected")

// onReject is the framer's callback for a refused element: an IQ get/set
// is answered with an error (from the reading goroutine, so via async).
func (st *stream) onReject(head []byte, err error) {
	st.a.metrics.Error(dialect, 400)
	iq, ok := iqFromHead(head)
	st.log.Info("stanza refused", "err", err, "iq", ok, "id", clip(iq.ID))
	if !ok || (iq.Type != stanza.GetIQ && iq.Type != stanza.SetIQ) || iq.From.String() == "" {
		return
	}
	e := errBadRequest.withText("malformed stanza")
	if errors.Is(err, ErrStanzaTooLarge) {
		e = errTooLarge.withText("stanza too large")
	}
	select {
	case st.async <- queued{errorReply(iq, e), "iq-error"}:
	default:
	}
}

// iqFromHead parses the start tag of a refused stanza.
func iqFromHead(head []byte) (stanza.IQ, bool) {
	if len(head) == 0 {
		return stanza.IQ{}, false
	}
	d := xml.NewDecoder(bytes.NewReader(head))
	tok, err := d.RawToken()
	start, isStart := tok.(xml.StartElement)
	if err != nil || !isStart || start.Name.Local != "iq" {
		return stanza.IQ{}, false
	}
	iq, err := stanza.NewIQ(start)
	if err != nil || iq.ID == "" {
		return stanza.IQ{}, false
	}
	iq.XMLName = xml.Name{Local: "iq"}
	return iq, true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
