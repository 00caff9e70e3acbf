//go:build !linux

package ws

import "net"

// newRawWriter: only Linux writes without waiting (socket_linux.go);
// elsewhere every write goes to a dedicated writer goroutine.
func newRawWriter(net.Conn) rawWriter { return nil }
