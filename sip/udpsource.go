package sip

import (
	"net"
	"net/netip"
)

// sipgo's UDP read loop turns the source of every datagram into a string
// (net.Addr.String) for the message's Source and its connection pool, and
// net.UDPConn hands out a new *net.UDPAddr per datagram: about five
// allocations per datagram read, for the same few peers again and again
// (a trunk, a proxy, SIPp). The UDP readers (stampedConn) read the source
// as a netip.AddrPort instead and hand sipgo a udpSource whose string is
// made once per peer.

// maxUDPSources bounds a reader's cache of sources; it starts afresh when
// full (a gateway facing many phones then allocates as before).
const maxUDPSources = 1024

// udpSource is a datagram's source address with its string made once.
// It is never modified once made: sipgo may keep it.
type udpSource struct {
	ap  netip.AddrPort
	str string
}

func (s *udpSource) Network() string { return "udp" }
func (s *udpSource) String() string  { return s.str }

// udpSources caches the sources one reader saw. Not safe for concurrent
// use: each reader goroutine has its own.
type udpSources map[netip.AddrPort]*udpSource

// get returns the source of ap, making it on first sight.
func (m *udpSources) get(ap netip.AddrPort) *udpSource {
	if s, ok := (*m)[ap]; ok {
		return s
	}
	if *m == nil || len(*m) >= maxUDPSources {
		*m = make(udpSources)
	}
	// As net.UDPAddr.String writes it: an IPv4-mapped address as IPv4.
	s := &udpSource{ap: ap, str: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()}
	(*m)[ap] = s
	return s
}

var _ net.Addr = (*udpSource)(nil)
