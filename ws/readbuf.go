package ws

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// readBufferSize is each connection's read buffer (a message larger than it
// is read in several pieces).
const readBufferSize = 1024

// ownReader is the ResponseWriter given to gorilla's Upgrade: its Hijack
// hands gorilla a read buffer of ours (Upgrader.ReadBufferSize 0 makes
// gorilla read frames through the one the hijack returns), so that the
// reader can ask it whether the client's next message is there already
// (inputPending) without a system call: a browser's offer, candidates and
// end-of-candidates arrive back to back, and one read of the socket often
// brings several of them into the buffer, where the kernel's queue, asked
// alone, reports nothing. The buffer is as large as gorilla's own was.
type ownReader struct {
	http.ResponseWriter
	br    *bufio.Reader // after a successful Hijack
	stage *stagedReader // what br reads from, when it is one
}

// errNoHijack: the ResponseWriter cannot hand over its connection.
var errNoHijack = errors.New("ws: response does not implement http.Hijacker")

// Hijack implements http.Hijacker. Bytes the HTTP server read past the
// handshake stay in its own buffer, which is returned as is: gorilla then
// refuses the client (it sent data before the handshake completed).
func (o *ownReader) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := o.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	nc, brw, err := hj.Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err
	}
	nc, o.stage = stagedConn(nc)
	o.br = bufio.NewReaderSize(nc, readBufferSize)
	return nc, bufio.NewReadWriter(o.br, brw.Writer), nil
}

// buffered reports whether the connection's read buffers (its own and the
// pooled one it reads the socket into, stage_unix.go) hold bytes not read
// yet (part of the next frame at least).
func (c *conn) buffered() bool {
	return c.br != nil && c.br.Buffered() > 0 || c.stage != nil && c.stage.pending()
}
