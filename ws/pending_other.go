//go:build !linux

package ws

// inputPending reports whether bytes of the client's next message are in
// the connection's read buffer already; elsewhere than on Linux the
// kernel's queue is not asked (pending_linux.go).
func (c *conn) inputPending() bool { return c.buffered() }
