//go:build !linux

package ws

import (
	"errors"
	"syscall"
)

// rawWrites: only Linux writes without waiting (socket_linux.go);
// elsewhere every write goes to a dedicated writer goroutine.
const rawWrites = false

func writeRaw(syscall.RawConn, []byte) (int, error) {
	return 0, errors.New("ws: no non-blocking writes on this platform")
}
