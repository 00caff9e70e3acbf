//go:build linux

package ws

import (
	"net"
	"syscall"
)

// fdWriter writes to the socket's descriptor itself, inside RawConn.Write
// (which holds the descriptor's write lock): one write(2), and on EAGAIN
// it returns instead of waiting for the poller.
type fdWriter struct {
	raw   syscall.RawConn
	p     []byte
	n     int
	errno error
	fn    func(fd uintptr) bool // made once: a closure per write would allocate
}

func newRawWriter(nc net.Conn) rawWriter {
	sc, ok := nc.(syscall.Conn) // *net.TCPConn; not *tls.Conn
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &fdWriter{raw: raw}
	w.fn = w.write
	return w
}

func (w *fdWriter) write(fd uintptr) bool {
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

func (w *fdWriter) writeNow(b []byte) (int, error) {
	w.p, w.n, w.errno = b, 0, nil
	err := w.raw.Write(w.fn)
	n := w.n
	w.p = nil
	if err != nil {
		return n, err
	}
	return n, w.errno
}
