//go:build !unix

package ws

import "net"

// stagedReader is stage_unix.go's; elsewhere the socket is read through
// the connection's read buffer alone.
type stagedReader struct{}

func stagedConn(nc net.Conn) (net.Conn, *stagedReader) { return nc, nil }

func (*stagedReader) pending() bool { return false }
