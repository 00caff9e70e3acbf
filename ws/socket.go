package ws

import (
	"time"

	"github.com/gorilla/websocket"
)

// socket writes a connection's frames. Every method is called holding
// conn.wmu. Blocking writes carry the write deadline (writeWait) and clear
// it afterwards: a non-blocking write (writeNow, socket_linux.go) fails
// once a deadline has passed.
type socket struct {
	ws  *websocket.Conn
	raw rawWriter // nil: no non-blocking writes (TLS terminated here, not Linux)
}

func newSocket(ws *websocket.Conn) socket {
	return socket{ws: ws, raw: newRawWriter(ws.NetConn())}
}

// canWriteNow reports whether writeNow can work.
func (s *socket) canWriteNow() bool { return s.raw != nil }

// writeNow writes as much of b as the socket takes without waiting: n <
// len(b) with no error means the socket is full.
func (s *socket) writeNow(b []byte) (int, error) {
	n, err := s.raw.writeNow(b)
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

// rawWriter writes to a socket without waiting.
type rawWriter interface {
	writeNow(b []byte) (int, error)
}
