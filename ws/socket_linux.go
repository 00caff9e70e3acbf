//go:build linux

package ws

import (
	"sync"
	"syscall"
)

// rawWrites: Linux writes without waiting (writeRaw).
const rawWrites = true

// rawWrite is one non-blocking write: its function runs inside
// RawConn.Write (which holds the descriptor's write lock), calls write(2)
// and returns on EAGAIN instead of waiting for the poller. Pooled, so
// that a connection keeps none and a write allocates none.
type rawWrite struct {
	p     []byte
	n     int
	errno error
	fn    func(fd uintptr) bool
}

var rawWriters = sync.Pool{New: func() any { w := &rawWrite{}; w.fn = w.write; return w }}

func (w *rawWrite) write(fd uintptr) bool {
	for w.n < len(w.p) {
		n, err := syscall.Write(int(fd), w.p[w.n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				w.errno = err
			}
			return true
		}
		if n <= 0 {
			return true
		}
		w.n += n
	}
	return true
}

// writeRaw writes as much of b as the socket takes at once.
func writeRaw(raw syscall.RawConn, b []byte) (int, error) {
	w := rawWriters.Get().(*rawWrite)
	w.p, w.n, w.errno = b, 0, nil
	err := raw.Write(w.fn)
	n, errno := w.n, w.errno
	w.p, w.errno = nil, nil
	rawWriters.Put(w)
	if err != nil {
		return n, err
	}
	return n, errno
}
