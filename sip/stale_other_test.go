//go:build !linux

package sip

import (
	"net"
	"testing"
)

// waitKernelStamps: kernel receive times are only read on Linux.
func waitKernelStamps(*testing.T, net.PacketConn) {}
