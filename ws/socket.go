package ws

import (
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// socket writes a connection's frames. Every write method is called
// holding conn.wmu. Blocking writes carry the write deadline (writeWait)
// and clear it afterwards: a non-blocking write (writeNow,
// socket_linux.go) fails once a deadline has passed.
type socket struct {
	ws  *websocket.Conn
	raw syscall.RawConn // the descriptor (nil: TLS terminated here); also the reader's probe (pending_linux.go)
}

func newSocket(ws *websocket.Conn) socket {
	s := socket{ws: ws}
	if sc, ok := ws.NetConn().(syscall.Conn); ok { // *net.TCPConn; not *tls.Conn
		s.raw, _ = sc.SyscallConn()
	}
	return s
}

// canWriteNow reports whether writeNow can work.
func (s *socket) canWriteNow() bool { return rawWrites && s.raw != nil }

// writeNow writes as much of b as the socket takes without waiting: n <
// len(b) with no error means the socket is full.
func (s *socket) writeNow(b []byte) (int, error) {
	n, err := writeRaw(s.raw, b)
	if err != nil && isTimeout(err) {
		return n, nil // a deadline left by a control frame: the blocking writer sets a fresh one
	}
	return n, err
}

// write writes all of b, waiting up to writeWait.
func (s *socket) write(b []byte) error {
	nc := s.ws.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := nc.Write(b)
	_ = nc.SetWriteDeadline(time.Time{})
	return err
}

// control writes a control frame (ping, pong, close) through gorilla,
// which knows whether a close frame went out already (ErrCloseSent).
func (s *socket) control(typ int, data []byte) error {
	err := s.ws.WriteControl(typ, data, time.Now().Add(writeWait))
	_ = s.ws.NetConn().SetWriteDeadline(time.Time{})
	return err
}
