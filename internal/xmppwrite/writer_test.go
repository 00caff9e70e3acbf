package xmppwrite

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"
)

// ready is a negotiator that negotiates nothing: the session is ready at
// once, writing straight to the connection.
func ready(context.Context, *stream.Info, *stream.Info, *xmpp.Session, any) (xmpp.SessionState, io.ReadWriter, any, error) {
	return xmpp.Ready, nil, nil, nil
}

// pair returns a ready session writing to one end of a loopback TCP
// connection, and the other end.
func pair(t *testing.T) (*xmpp.Session, net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	s, err := xmpp.NewSession(context.Background(), jid.MustParse("example.test"), jid.MustParse("a@example.test"),
		c, xmpp.Secure, ready)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, peer
}

func message(id string) xml.TokenReader {
	return stanza.Message{To: jid.MustParse("b@example.test"), ID: id}.Wrap(nil)
}

// Concurrent senders, each with a context that ends as its send returns:
// every stanza arrives whole and no send fails.
func TestConcurrentSends(t *testing.T) {
	s, c, peer := pair(t)
	w := New(s, c, 10*time.Second)
	const workers, each = 8, 1000
	got := make(chan int)
	go func() {
		d := xml.NewDecoder(peer)
		n := 0
		for {
			tok, err := d.Token()
			if err != nil {
				got <- n
				return
			}
			if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "message" {
				n++
				if n == workers*each {
					got <- n
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := w.Send(ctx, message(fmt.Sprint(i, "-", j)))
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.Close() // the peer reads to the end
	if n := <-got; n != workers*each {
		t.Errorf("the peer read %d messages, want %d", n, workers*each)
	}
}

// A peer that stops reading: the write fails within the timeout with
// ErrWrite, and a caller waiting for its turn gives up with its context.
func TestStalledPeer(t *testing.T) {
	s, c, _ := pair(t)
	w := New(s, c, 200*time.Millisecond)
	big := strings.Repeat("x", 64<<10)
	var err error
	for range 1000 { // until the socket buffers are full
		err = w.Send(context.Background(), stanza.Message{ID: "big"}.Wrap(xmlstream.Token(xml.CharData(big))))
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrWrite) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want ErrWrite and a deadline", err)
	}

	w.turn <- struct{}{} // someone else is writing
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Send(ctx, message("waits")); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrWrite) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}
