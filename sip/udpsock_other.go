//go:build !linux

package sip

import (
	"errors"
	"net"
)

var errNoSockopt = errors.New("socket buffer sizes are only read back on Linux")

// sockBuffer cannot read the granted size here; the request is reported.
func sockBuffer(*net.UDPConn, bool) (int, error) { return 0, errNoSockopt }

func forceBuffer(*net.UDPConn, int, bool) error { return errNoSockopt }
