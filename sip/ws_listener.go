package sip

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// SIP over WebSocket (RFC 7118) is served by sipgo's WS transport, which
// upgrades every connection it accepts, on any path, synchronously in its
// accept loop. wsPathListener sits in front of it: each connection's
// handshake head is read on its own goroutine under a deadline, requests for
// another path get 404, and only complete handshakes reach sipgo.

const (
	wsHandshakeTimeout = 5 * time.Second
	wsMaxHead          = 8 << 10
)

type wsPathListener struct {
	net.Listener
	path  string
	log   *slog.Logger
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newWSPathListener(ln net.Listener, path string, log *slog.Logger) *wsPathListener {
	l := &wsPathListener{Listener: ln, path: path, log: log, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *wsPathListener) acceptLoop() {
	defer l.once.Do(func() { close(l.done) })
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return
		}
		go l.screen(c)
	}
}

// Accept returns the next connection whose handshake head asked for our path.
func (l *wsPathListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *wsPathListener) screen(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(wsHandshakeTimeout))
	br := bufio.NewReaderSize(c, wsMaxHead)
	head, ok := peekHead(br)
	if !ok || requestPath(head) != l.path {
		l.log.Debug("sip ws handshake refused", "remote", c.RemoteAddr().String())
		_, _ = c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		_ = c.Close()
		return
	}
	select {
	case l.conns <- &headConn{Conn: c, r: br}:
	case <-l.done:
		_ = c.Close()
	}
}

// peekHead waits for the whole HTTP head (up to wsMaxHead) without consuming it.
func peekHead(br *bufio.Reader) ([]byte, bool) {
	for n := 1; n <= wsMaxHead; n = br.Buffered() + 1 {
		if _, err := br.Peek(n); err != nil {
			return nil, false
		}
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return b[:i], true
		}
	}
	return nil, false
}

// requestPath returns the path of "GET /path?query HTTP/1.1".
func requestPath(head []byte) string {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) != 3 || f[0] != "GET" {
		return ""
	}
	p, _, _ := strings.Cut(f[1], "?")
	return p
}

// headConn replays the peeked head and lifts the handshake deadline once the
// upgrade response is written.
type headConn struct {
	net.Conn
	r    *bufio.Reader
	once sync.Once
}

func (c *headConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *headConn) Write(b []byte) (int, error) {
	c.once.Do(func() { _ = c.Conn.SetReadDeadline(time.Time{}) })
	return c.Conn.Write(b)
}

// Close closes the listener; Accept then returns net.ErrClosed.
func (l *wsPathListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}
