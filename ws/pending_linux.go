//go:build linux

package ws

import (
	"sync"
	"syscall"
	"unsafe"
)

// probe asks the kernel how many bytes wait in a socket's receive queue
// (SIOCINQ). Pooled with its function, so that a connection keeps none
// and a probe allocates none.
type probe struct {
	n     int32
	errno syscall.Errno
	fn    func(fd uintptr)
}

var probes = sync.Pool{New: func() any {
	p := &probe{}
	p.fn = func(fd uintptr) {
		_, _, p.errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&p.n)))
	}
	return p
}}

// inputPending reports whether bytes of the client's next message are
// already in the socket's receive queue, so the reader can read them on
// the goroutine whose stack handling has grown instead of handing on to a
// fresh one (a browser sends its offer, candidates and end-of-candidates
// back to back). The reader asks its own read buffer first (readbuf.go,
// no system call); this asks the kernel once that is empty. False when it
// cannot tell (TLS terminated here, an error): reading is then handed on
// as always.
func (c *conn) inputPending() bool {
	raw := c.sock.raw
	if raw == nil {
		return false
	}
	p := probes.Get().(*probe)
	p.n, p.errno = 0, 0
	err := raw.Control(p.fn)
	pending := err == nil && p.errno == 0 && p.n > 0
	probes.Put(p)
	return pending
}
