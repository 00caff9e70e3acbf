//go:build !linux

package ws

// pendingProbe is Linux's (pending_linux.go).
type pendingProbe struct{}

// inputPending: only Linux can tell (pending_linux.go); elsewhere reading
// is always handed on to a fresh goroutine.
func (c *conn) inputPending() bool { return false }
