package daemon

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// All is a Ready probe that passes once every one of probes passes (the
// first failure is its error).
func All(probes ...func() error) func() error {
	return func() error {
		for _, p := range probes {
			if err := p(); err != nil {
				return err
			}
		}
		return nil
	}
}

// DialTCP is a Ready probe: every addr accepts a TCP connection.
func DialTCP(addrs ...string) func() error {
	return func() error {
		for _, a := range addrs {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err != nil {
				return err
			}
			c.Close()
		}
		return nil
	}
}

// Listening is a Ready probe: some socket of this network namespace is
// bound to UDP port or listens on TCP port (IPv4 or IPv6), read from
// /proc/net rather than by connecting, for servers that serve their first
// connection only (SIPp's t1 mode).
func Listening(port int) func() error {
	return func() error {
		ok, err := listening(port)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("nothing listens on port %d", port)
		}
		return nil
	}
}

// ListeningTCP is Listening for TCP only.
func ListeningTCP(port int) func() error {
	return func() error {
		ok, err := scan(port, "/proc/net/tcp", "/proc/net/tcp6")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("nothing listens on TCP port %d", port)
		}
		return nil
	}
}

// ListeningUDP is Listening for UDP only.
func ListeningUDP(port int) func() error {
	return func() error {
		ok, err := scan(port, "/proc/net/udp", "/proc/net/udp6")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("nothing bound to UDP port %d", port)
		}
		return nil
	}
}

func listening(port int) (bool, error) {
	ok, err := scan(port, "/proc/net/tcp", "/proc/net/tcp6")
	if ok || err != nil {
		return ok, err
	}
	return scan(port, "/proc/net/udp", "/proc/net/udp6")
}

// scan reports whether a socket in the tables files has local port port:
// for TCP in state LISTEN (0A), for UDP in any state. An error means no
// table could be read.
func scan(port int, files ...string) (bool, error) {
	want := fmt.Sprintf(":%04X", port)
	var firstErr error
	read := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		read = true
		tcp := strings.Contains(f, "tcp")
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(l)
			if len(fs) > 3 && strings.HasSuffix(fs[1], want) && (!tcp || fs[3] == "0A") {
				return true, nil
			}
		}
	}
	if !read {
		return false, firstErr
	}
	return false, nil
}
