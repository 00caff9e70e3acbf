package xmpp

import (
	"crypto/tls"
	"net"
	"sync"
)

// framedConn is a net.Conn whose reads go through a framer.
type framedConn struct {
	net.Conn
	mu sync.Mutex // guards f: Read and setRaw may come from different goroutines
	f  *framer
}

func newFramedConn(c net.Conn, max int, reject func([]byte, error)) *framedConn {
	return &framedConn{Conn: c, f: newFramer(c, max, reject)}
}

// Read implements net.Conn.
func (c *framedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.Read(p)
}

// expectTLS makes the framer pass bytes through right after a STARTTLS
// <proceed/>, even when TLS bytes follow in the same read.
func (c *framedConn) expectTLS() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f.autoRaw = true
}

func (c *framedConn) setRaw() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f.setRaw()
}

// ConnectionState reports the TLS state of the connection below, if any
// (mellium uses it for SCRAM channel binding after STARTTLS).
func (c *framedConn) ConnectionState() tls.ConnectionState {
	if t, ok := c.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return t.ConnectionState()
	}
	return tls.ConnectionState{}
}
