//go:build unix

package ws

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// tcpPair is a connected TCP pair on loopback: the server's end, the
// client's end.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// Bytes read through a staged reader and a 1 KiB buffer are the bytes
// written, in order, whatever the sizes of the writes; the pooled buffer is
// let go once drained; the peer's close is io.EOF.
func TestStagedReaderDelivers(t *testing.T) {
	server, client := tcpPair(t)
	src, st := stagedConn(server)
	if st == nil {
		t.Fatalf("a TCP connection is not staged (%T)", src)
	}
	br := bufio.NewReaderSize(src, readBufferSize)
	var want bytes.Buffer
	for i, size := range []int{1, 300, 1500, 1024, 5000, stageSize + 100, 3} {
		chunk := bytes.Repeat([]byte{byte('a' + i)}, size)
		want.Write(chunk)
		if _, err := client.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("bytes read differ from those written")
	}
	if st.pending() || br.Buffered() != 0 {
		t.Errorf("drained, yet pending %v, buffered %d", st.pending(), br.Buffered())
	}
	_ = client.Close()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the peer closed: %v, want io.EOF", err)
	}
}

// A read deadline ends a read that waits for data with a timeout, as a
// plain read of the connection would (gorilla's read deadline).
func TestStagedReaderDeadline(t *testing.T) {
	server, client := tcpPair(t)
	nc, _ := stagedConn(server)
	br := bufio.NewReaderSize(nc, readBufferSize)
	if err := server.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := br.ReadByte()
	if st := nc.(*stagedNetConn).stage; st.pending() {
		t.Error("a read waiting for data holds a pooled buffer")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	_ = server.SetReadDeadline(time.Time{})
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	br = bufio.NewReaderSize(nc, readBufferSize) // bufio keeps its error
	if b, err := br.ReadByte(); err != nil || b != 'x' {
		t.Fatalf("after the deadline: %q, %v", b, err)
	}
}

// Through gorilla's upgrade (which resets the hijacked read buffer onto
// the connection it is given), the socket is still read through the
// stage: a burst of messages over the 1 KiB buffer, written at once, comes
// in with one read of the socket, and the reader handles all of it before
// it hands on.
func TestStagedThroughUpgrade(t *testing.T) {
	handOns := make(chan int, 16)
	h := newHarness(t, Config{onHandOn: func(n int) { handOns <- n }}, gateway.Config{})
	c := h.dial(nil)
	if _, err := c.WaitID(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h.srv.dir.mu.Lock()
	var sc *conn
	for k := range h.srv.dir.conns {
		sc = k
	}
	h.srv.dir.mu.Unlock()
	if sc == nil || sc.stage == nil {
		t.Fatal("the connection reads the socket without a stage")
	}
	before := sc.stage.fills.Load()
	const n = 12
	var burst []byte
	for range n {
		burst = append(burst, maskedFrame(`{"type":"message","text":"`+strings.Repeat("x", 80)+`"}`)...)
	}
	if len(burst) <= readBufferSize {
		t.Fatalf("burst of %d bytes fits the read buffer", len(burst))
	}
	if _, err := c.Conn.NetConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	for range n {
		expectError(t, c, 401, "message")
	}
	if got := <-handOns; got != n {
		t.Errorf("the reader handed on after %d messages of %d", got, n)
	}
	if got := sc.stage.fills.Load() - before; got != 1 {
		t.Errorf("the burst took %d reads of the socket, want 1", got)
	}
}

// Idle connections hold no pooled buffer: their readers wait for data
// without one (the buffer is given back when the socket has nothing).
func TestStagedIdleHoldsNoBuffer(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	for i := range 20 {
		h.login(fmt.Sprintf("idle%d", i), nil)
	}
	deadline := time.Now().Add(10 * time.Second)
	for stagesHeld.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := stagesHeld.Load(); n != 0 {
		t.Fatalf("20 idle connections hold %d pooled buffers", n)
	}
}
