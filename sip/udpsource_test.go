package sip

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestStampedConnSources: every datagram is delivered with its own source,
// written as net.UDPAddr writes it, from several senders interleaved; a
// source seen again is the same address value (made once).
func TestStampedConnSources(t *testing.T) {
	pc, sc, _ := stampedTestConn(t)
	var senders []net.Conn
	for range 3 {
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		senders = append(senders, c)
	}
	const rounds = 4
	for r := range rounds {
		for i, c := range senders {
			if _, err := fmt.Fprintf(c, "OPTIONS sip:%d@x SIP/2.0\r\n\r\n", r*len(senders)+i); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]net.Addr{}
	buf := make([]byte, 2048)
	for n := range rounds * len(senders) {
		_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, addr, err := sc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read %d: %v", n, err)
		}
		var num int
		if _, err := fmt.Sscanf(string(buf[:k]), "OPTIONS sip:%d@x", &num); err != nil {
			t.Fatalf("datagram %q: %v", buf[:k], err)
		}
		want := senders[num%len(senders)].LocalAddr().String() // *net.UDPAddr's String
		if addr.Network() != "udp" || addr.String() != want {
			t.Fatalf("datagram %d from %s/%s, want udp/%s", num, addr.Network(), addr, want)
		}
		if prev, ok := seen[want]; ok && prev != addr {
			t.Errorf("source %s made again", want)
		}
		seen[want] = addr
	}
	if len(seen) != len(senders) {
		t.Errorf("%d sources, want %d", len(seen), len(senders))
	}
}

// TestUDPSourcesBounded: the cache writes addresses as net.UDPAddr does
// (IPv4-mapped as IPv4, IPv6 bracketed) and starts afresh when full.
func TestUDPSourcesBounded(t *testing.T) {
	var m udpSources
	for _, c := range []struct{ ap, want string }{
		{"127.0.0.1:5060", "127.0.0.1:5060"},
		{"[::ffff:192.0.2.1]:5070", "192.0.2.1:5070"},
		{"[2001:db8::1]:5080", "[2001:db8::1]:5080"},
	} {
		ap := netip.MustParseAddrPort(c.ap)
		u := &net.UDPAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
		if got := m.get(ap).String(); got != c.want || got != u.String() {
			t.Errorf("%s: %q, want %q (net.UDPAddr: %q)", c.ap, got, c.want, u.String())
		}
	}
	for i := range 2 * maxUDPSources {
		m.get(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(i+1)))
		if len(m) > maxUDPSources {
			t.Fatalf("%d sources cached, bound %d", len(m), maxUDPSources)
		}
	}
	a := netip.MustParseAddrPort("10.0.0.1:1")
	if m.get(a) != m.get(a) {
		t.Error("a cached source was made again")
	}
}

// TestUDPSourceNoAlloc: a source seen before costs no allocation.
func TestUDPSourceNoAlloc(t *testing.T) {
	var m udpSources
	ap := netip.MustParseAddrPort("127.0.0.1:5060")
	m.get(ap)
	if n := testing.AllocsPerRun(100, func() { _ = m.get(ap).String() }); n != 0 {
		t.Errorf("%v allocations per known source, want 0", n)
	}
}
