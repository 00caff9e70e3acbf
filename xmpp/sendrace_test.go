package xmpp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/xmppwrite"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Many goroutines send at once, each under a context of its own that ends
// when its send returns, the way calls do. The end of one send's context
// must never break another send: every stanza arrives whole and the stream
// stays up. (mellium's Send arms a goroutine per call that sets the
// connection's write deadline to the past when the context ends, which can
// hit the next sender's write; a failed write poisons the stream's buffered
// writer for good.)
func TestConcurrentSendsKeepStream(t *testing.T) {
	s, a := startFakeAdapter(t)
	if err := a.WaitConnected(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := a.stream()
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	to := jid.MustParse("peer@example.test/r")
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				msg := stanza.Message{To: to, ID: fmt.Sprintf("m%d-%d", w, i), Type: stanza.NormalMessage}
				if err := st.send(context.Background(), msg.Wrap(nil), "test"); err != nil {
					errs <- fmt.Errorf("send %d of worker %d: %w", i, w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.waitCount(func(r reply) bool { return r.Name == "message" }, workers*each)
	if a.stream() != st {
		t.Error("the stream was replaced")
	}
}

// A write that fails closes the stream (mellium would refuse every later
// write while the stream still read), and the adapter reconnects.
func TestFailedWriteClosesStream(t *testing.T) {
	s, a := startFakeAdapter(t)
	ctx := ctxFor(t, 10*time.Second)
	if err := a.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	st := a.stream()
	if err := st.conn.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	to := jid.MustParse("peer@example.test/r")
	if err := st.send(ctx, stanza.Message{To: to, ID: "lost"}.Wrap(nil), "test"); !errors.Is(err, xmppwrite.ErrWrite) {
		t.Fatalf("send on a broken connection: %v, want ErrWrite", err)
	}
	select {
	case <-s.accepts:
	case <-ctx.Done():
		t.Fatal("the adapter did not reconnect")
	}
	if err := a.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.stream().send(ctx, stanza.Message{To: to, ID: "after"}.Wrap(nil), "test"); err != nil {
		t.Fatal(err)
	}
	s.waitCount(func(r reply) bool { return r.ID == "after" }, 1)
}
