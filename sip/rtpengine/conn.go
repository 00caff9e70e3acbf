package rtpengine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// conn is the UDP socket to one rtpengine instance. Requests carry a
// random cookie; one reader goroutine hands each reply to the request
// waiting for its cookie. A request is retransmitted with the same cookie
// (rtpengine answers a repeated cookie from its cache, so a retransmitted
// offer is not applied twice).
type conn struct {
	addr string
	udp  *net.UDPConn

	mu      sync.Mutex
	pending map[string]chan []byte
	closed  bool
}

func dial(addr string) (*conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtpengine: resolve %s: %w", addr, err)
	}
	udp, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, fmt.Errorf("rtpengine: dial %s: %w", addr, err)
	}
	_ = udp.SetReadBuffer(1 << 20)
	c := &conn{addr: addr, udp: udp, pending: map[string]chan []byte{}}
	go c.read()
	return c, nil
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.udp.Close()
}

func (c *conn) read() {
	buf := make([]byte, MaxMessage+64)
	for {
		n, err := c.udp.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable (instance down) and the like: keep
			// reading; the waiting request times out.
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if closed {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		cookie, body, ok := bytes.Cut(buf[:n], []byte{' '})
		if !ok {
			continue
		}
		c.mu.Lock()
		ch := c.pending[string(cookie)]
		delete(c.pending, string(cookie))
		c.mu.Unlock()
		if ch != nil {
			ch <- bytes.Clone(body)
		}
	}
}

// exchange sends msg (bencoded) and waits for its reply, retransmitting
// every interval until ctx ends.
func (c *conn) exchange(ctx context.Context, msg []byte, interval time.Duration) ([]byte, error) {
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	cookie := hex.EncodeToString(raw[:])
	ch := make(chan []byte, 1)
	c.mu.Lock()
	c.pending[cookie] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, cookie)
		c.mu.Unlock()
	}()
	packet := append([]byte(cookie+" "), msg...)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := c.udp.Write(packet); err != nil && !isRefused(err) {
			return nil, fmt.Errorf("rtpengine %s: send: %w", c.addr, err)
		}
		select {
		case reply := <-ch:
			return reply, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("rtpengine %s: %w: %w", c.addr, ErrTimeout, ctx.Err())
		case <-t.C:
		}
	}
}

// isRefused reports a connection refused left by an earlier ICMP port
// unreachable: the instance is down now, but may answer a retransmission.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
