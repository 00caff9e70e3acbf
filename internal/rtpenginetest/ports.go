package rtpenginetest

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// mediaRange picks n consecutive UDP ports of 127.0.0.1, all free just now,
// from a random base between 10000 and the band daemon's Free functions
// pick from (just below Linux's ephemeral range, 32768-60999): so
// rtpengine's media ports never take a port another test's starter found
// free (Kamailio once failed to bind one), and parallel instances rarely
// collide; rtpengine skips ports taken later.
func mediaRange(n int) (lo, hi int, err error) {
	top, _ := daemon.PickBand()
	for range 50 {
		base := 10000 + rand.IntN(top-10000-n)
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
