package daemon

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// FreeTCPPort returns a TCP port of 127.0.0.1 that was free just now.
func FreeTCPPort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeUDPPort returns a UDP port of 127.0.0.1 that was free just now.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// FreePort returns a port of 127.0.0.1 that was free just now for both UDP
// and TCP (a SIP or TURN server listens on both).
func FreePort() (int, error) {
	for range 50 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("free port: none free for both UDP and TCP")
}

// Loopback is 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
