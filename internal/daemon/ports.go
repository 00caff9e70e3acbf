package daemon

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
)

// A port that a test finds free and hands to a peer (a daemon's config or
// command line) stays free only until someone else binds it. Ports picked
// with ":0" come from Linux's ephemeral range, which the kernel hands out
// again at once to every bind(":0") and every outgoing TCP connection of
// the box (pion agents, WebSocket clients, other test processes running in
// parallel): a peer that binds it a moment later can find it taken (baresip
// and Kamailio once failed so). So the ports here are picked at random
// from a band just below the ephemeral range, which the kernel never hands
// out on its own, and are checked free for every protocol asked for: only
// another explicit pick of the same port in the same instant can still
// take it. rtpenginetest's media ranges lie below this band (PickBand).

// bandSize is how many ports below the ephemeral range the picks use.
const bandSize = 10000

// ephemeralLow is the first port of the ephemeral range (Linux's
// /proc/sys/net/ipv4/ip_local_port_range; 32768 if unreadable).
var ephemeralLow = sync.OnceValue(func() int {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var l, h int
		if _, err := fmt.Sscan(string(b), &l, &h); err == nil && l > 0 {
			lo = l
		}
	}
	return lo
})

// PickBand is the band of ports the Free functions pick from, [lo, hi):
// the bandSize ports below the ephemeral range (less if that range starts
// below 1024+bandSize). Other pickers (rtpenginetest's media ranges) stay
// below lo.
func PickBand() (lo, hi int) {
	hi = ephemeralLow()
	lo = max(hi-bandSize, 1024)
	if hi <= lo { // an ephemeral range that starts at 1024 or below
		lo, hi = 1024, 1024+bandSize
	}
	return lo, hi
}

// FreeTCPPort returns a TCP port of 127.0.0.1 that was free just now.
func FreeTCPPort() (int, error) { return pick("127.0.0.1", 1, "tcp4") }

// FreeUDPPort returns a UDP port of 127.0.0.1 that was free just now.
func FreeUDPPort() (int, error) { return pick("127.0.0.1", 1, "udp4") }

// FreePort returns a port of 127.0.0.1 that was free just now for both UDP
// and TCP (a SIP or TURN server listens on both).
func FreePort() (int, error) { return pick("127.0.0.1", 1, "udp4", "tcp4") }

// FreeTCPPortOn returns a TCP port of host (an IPv4 address) that was free
// just now.
func FreeTCPPortOn(host string) (int, error) { return pick(host, 1, "tcp4") }

// FreePortOn returns a port of host (an IPv4 address) that was free just
// now for both UDP and TCP.
func FreePortOn(host string) (int, error) { return pick(host, 1, "udp4", "tcp4") }

// FreeUDPPorts returns the first of n consecutive UDP ports of 127.0.0.1
// that were all free just now (SIPp's media port p also binds p+2).
func FreeUDPPorts(n int) (int, error) { return pick("127.0.0.1", n, "udp4") }

// pick returns a random port p of the band such that p..p+n-1 were free
// on host for each of nets just now.
func pick(host string, n int, nets ...string) (int, error) {
	lo, hi := PickBand()
	for range 100 {
		p := lo + rand.IntN(hi-lo-n+1)
		if free(host, p, n, nets) {
			return p, nil
		}
	}
	return 0, errors.New("free port: none free in 100 tries")
}

// free binds each of p..p+n-1 on host for each of nets and releases them;
// it reports whether every bind succeeded.
func free(host string, p, n int, nets []string) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for port := p; port < p+n; port++ {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		for _, nw := range nets {
			switch nw {
			case "udp4":
				c, err := net.ListenPacket(nw, addr)
				if err != nil {
					return false
				}
				closers = append(closers, c.Close)
			default:
				l, err := net.Listen(nw, addr)
				if err != nil {
					return false
				}
				closers = append(closers, l.Close)
			}
		}
	}
	return true
}

// Loopback is 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
