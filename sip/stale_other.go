//go:build !linux

package sip

import (
	"errors"
	"net"
)

func stampPackets(net.PacketConn, *staleFilter) (net.PacketConn, error) {
	return nil, errors.New("kernel receive times are only read on Linux")
}
