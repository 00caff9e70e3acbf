//go:build !linux

package ws

// inputPending: only Linux can tell (pending_linux.go); elsewhere reading
// is always handed on to a fresh goroutine.
func (c *conn) inputPending() bool { return false }
