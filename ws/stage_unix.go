//go:build unix

package ws

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// stageSize is the pooled buffer one read of the socket fills: a
// browser's offer (about 1.5 KB with its candidates' lines), candidates
// and end-of-candidates usually arrive together and come in with one
// system call instead of one per 1 KiB (readBufferSize).
const stageSize = 16 << 10

var stages = sync.Pool{New: func() any {
	b := make([]byte, stageSize)
	return &b
}}

// stagesHeld counts the pooled buffers taken and not given back: a reader
// holds one only while bytes read from its socket wait in it.
var stagesHeld atomic.Int64

func takeStage() *[]byte {
	stagesHeld.Add(1)
	return stages.Get().(*[]byte)
}

func giveStage(b *[]byte) {
	stagesHeld.Add(-1)
	stages.Put(b)
}

// stagedReader is the socket as the connection's read buffer (readbuf.go)
// sees it. The connection keeps a 1 KiB buffer for the 12 KiB an idle
// connection may cost; reading the socket through it took 5.6 reads a
// browser → SIP call. This reader reads the socket into a pooled 16 KiB
// buffer (stages), only once the socket has data: the read is made
// in the descriptor's RawConn.Read callback, which waits for readability
// (and honours the read deadline) when the read would block, as the net
// package's own read does, and takes the buffer only for the read that
// fills it. What the small buffer does not take at once stays in the
// pooled one until it is read; an idle connection holds none.
type stagedReader struct {
	raw  syscall.RawConn
	buf  *[]byte // the pooled buffer; nil when drained
	r, w int     // unread bytes of buf: [r, w)
	n    int     // the last read's result (read)
	err  error
	// fills counts the socket's reads that brought data (tests).
	fills atomic.Uint32
	read  func(fd uintptr) bool // RawConn.Read's callback, made once
}

// stagedNetConn is a connection whose reads are staged. gorilla resets the
// read buffer the hijack hands it onto the connection (bufioReaderSize), so
// the staging is done by the connection itself. SyscallConn stays
// available for the writer (socket.go) and the reader's probe.
type stagedNetConn struct {
	net.Conn
	sc    syscall.Conn
	stage *stagedReader
}

func (c *stagedNetConn) Read(p []byte) (int, error)            { return c.stage.Read(p) }
func (c *stagedNetConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

// stagedConn wraps nc when it is a socket of ours (TCP; not TLS terminated
// here), with its stagedReader; nc and nil otherwise.
func stagedConn(nc net.Conn) (net.Conn, *stagedReader) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nc, nil
	}
	s := &stagedReader{raw: raw}
	s.read = func(fd uintptr) bool {
		if s.buf == nil {
			s.buf = takeStage()
		}
		for {
			s.n, s.err = syscall.Read(int(fd), *s.buf)
			if s.err != syscall.EINTR {
				break
			}
		}
		if s.err == syscall.EAGAIN { // nothing yet: wait without the buffer
			giveStage(s.buf)
			s.buf = nil
			return false
		}
		return true
	}
	return &stagedNetConn{Conn: nc, sc: sc, stage: s}, s
}

// Read implements io.Reader.
func (s *stagedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.buf == nil {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*s.buf)[s.r:s.w])
	s.r += n
	if s.r == s.w {
		giveStage(s.buf)
		s.buf = nil
	}
	return n, nil
}

// fill reads the socket into a pooled buffer once it has data: the
// callback takes a buffer for each attempt and gives it back when the
// socket has nothing (EAGAIN), before RawConn.Read waits.
func (s *stagedReader) fill() error {
	s.n, s.err = 0, nil
	err := s.raw.Read(s.read)
	switch {
	case err == nil && s.err != nil:
		err = os.NewSyscallError("read", s.err)
	case err == nil && s.n <= 0:
		err = io.EOF
	}
	if err != nil {
		if s.buf != nil {
			giveStage(s.buf)
			s.buf = nil
		}
		return err
	}
	s.r, s.w = 0, s.n
	s.fills.Add(1)
	return nil
}

// pending reports whether bytes read from the socket wait here.
func (s *stagedReader) pending() bool { return s.buf != nil }
