//go:build linux

package ws

import (
	"syscall"
	"unsafe"
)

// pendingProbe asks the kernel how many bytes wait in a connection's
// receive queue. Made once per connection (SyscallConn and the closure
// would otherwise allocate on every message); read goroutine only.
type pendingProbe struct {
	raw   syscall.RawConn // nil: the connection has no socket of its own (TLS here)
	n     int32
	errno syscall.Errno
	ioctl func(fd uintptr)
}

// inputPending reports whether bytes of the client's next message are
// already in the socket's receive queue (SIOCINQ), so the reader can read
// them on the goroutine whose stack handling has grown instead of handing
// on to a fresh one (a browser sends its offer, candidates and
// end-of-candidates back to back). False when it cannot tell (TLS
// terminated here, an error): reading is then handed on as always.
func (c *conn) inputPending() bool {
	p := c.pending
	if p == nil {
		p = &pendingProbe{}
		if sc, ok := c.ws.NetConn().(syscall.Conn); ok {
			p.raw, _ = sc.SyscallConn()
		}
		p.ioctl = func(fd uintptr) {
			_, _, p.errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&p.n)))
		}
		c.pending = p
	}
	if p.raw == nil {
		return false
	}
	p.n, p.errno = 0, 0
	if err := p.raw.Control(p.ioctl); err != nil || p.errno != 0 {
		return false
	}
	return p.n > 0
}
