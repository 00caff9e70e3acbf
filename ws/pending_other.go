//go:build !linux

package ws

// inputPending: only Linux can tell what waits in the socket
// (pending_linux.go); elsewhere the reader goes on only when its own read
// buffer holds the next message (readbuf.go).
func (c *conn) inputPending() bool { return false }
