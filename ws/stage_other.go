//go:build !unix

package ws

import (
	"io"
	"net"
)

// stagedReader is stage_unix.go's; elsewhere the socket is read through
// the connection's read buffer alone.
type stagedReader struct{}

func stagedConn(nc net.Conn) io.Reader { return nc }

func (*stagedReader) pending() bool { return false }
