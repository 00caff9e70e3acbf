//go:build linux

package sip

import (
	"fmt"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// stampedConn is a UDP listener whose reads know when the kernel received
// each datagram (SO_TIMESTAMPNS) and skip the stale ones. Each of sipgo's
// reader goroutines reads through its own stampedConn (oob is its buffer).
type stampedConn struct {
	*net.UDPConn
	filter  *staleFilter
	oob     []byte
	sources udpSources // udpsource.go
	fill    queueFill  // queuefill_linux.go
}

func stampPackets(pc net.PacketConn, f *staleFilter) (net.PacketConn, error) {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return nil, fmt.Errorf("%T is not a UDP socket", pc)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", serr)
	}
	c := &stampedConn{UDPConn: uc, filter: f, oob: make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{}))))}
	if f.shed != nil {
		c.fill.raw = raw
	}
	return c, nil
}

// ReadFrom returns the next datagram that is not a stale INVITE; new
// INVITEs that arrive while the queue is late are answered 503 here
// (statelessShed), and what the reader handles itself (Adapter.takeUDP:
// responses to our client transactions, the ACK of our 2xx) is done here. The source is a udpSource (udpsource.go).
func (c *stampedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, oobn, _, ap, err := c.ReadMsgUDPAddrPort(b, c.oob)
		if err != nil {
			if !ap.IsValid() {
				return n, nil, err
			}
			return n, c.sources.get(ap), err
		}
		now := time.Now()
		if c.fill.over(now) {
			c.filter.full(now)
		}
		if c.filter.stale(b[:n], receiveTime(c.oob[:oobn]), now) {
			continue
		}
		if resp := c.filter.statelessShed(b[:n], now); resp != nil {
			_, _ = c.WriteToUDPAddrPort(resp, ap)
			continue
		}
		src := c.sources.get(ap)
		if c.filter.take != nil && c.filter.take(b[:n], src) {
			continue
		}
		return n, src, nil
	}
}

// receiveTime is the SCM_TIMESTAMPNS of a datagram, zero when absent. It
// reads the control messages in place (syscall.ParseSocketControlMessage
// allocates, and this runs for every datagram).
func receiveTime(oob []byte) time.Time {
	hdr := syscall.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS &&
			l >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[hdr]))
			return time.Unix(ts.Unix())
		}
		next := syscall.CmsgSpace(l - hdr)
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return time.Time{}
}
