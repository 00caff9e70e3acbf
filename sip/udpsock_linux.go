//go:build linux

package sip

import (
	"fmt"
	"net"
	"syscall"
)

// sockBuffer reads SO_RCVBUF (write: SO_SNDBUF) back from the socket.
func sockBuffer(uc *net.UDPConn, write bool) (int, error) {
	opt := syscall.SO_RCVBUF
	if write {
		opt = syscall.SO_SNDBUF
	}
	var n int
	err := sockopt(uc, func(fd int) (err error) {
		n, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, opt)
		return err
	})
	return n, err
}

// forceBuffer sets the buffer past net.core.rmem_max / wmem_max with
// SO_RCVBUFFORCE / SO_SNDBUFFORCE; it fails without CAP_NET_ADMIN.
func forceBuffer(uc *net.UDPConn, n int, write bool) error {
	opt := syscall.SO_RCVBUFFORCE
	if write {
		opt = syscall.SO_SNDBUFFORCE
	}
	return sockopt(uc, func(fd int) error {
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, opt, n)
	})
}

func sockopt(uc *net.UDPConn, f func(fd int) error) error {
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("socket option: %w", ferr)
	}
	return nil
}
