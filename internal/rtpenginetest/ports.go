package rtpenginetest

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// freeUDPPort returns a UDP port of 127.0.0.1 that was free just now.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// mediaRange picks n consecutive UDP ports of 127.0.0.1, all free just now,
// from a random base in 20000-59999, so parallel instances (and other
// packages' tests) rarely collide; rtpengine skips ports taken later.
func mediaRange(n int) (lo, hi int, err error) {
	for range 50 {
		base := 20000 + rand.IntN(40000-n)
		base &^= 1 // RTP on even ports
		if allFree(base, n) {
			return base, base + n - 1, nil
		}
	}
	return 0, 0, errors.New("rtpenginetest: no free media port range")
}

func allFree(base, n int) bool {
	for p := base; p < base+n; p += 7 { // a sample; a full scan costs too much
		c, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}
