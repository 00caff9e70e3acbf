package sip

import (
	"fmt"
	"net"
)

// Bounds of the UDP socket settings.
const (
	maxUDPBuffer  = 256 << 20
	maxUDPReaders = 16
)

// checkUDPSocket validates UDPReadBuffer, UDPWriteBuffer and UDPReaders
// (after withDefaults).
func (c Config) checkUDPSocket() error {
	if c.UDPReadBuffer > maxUDPBuffer {
		return fmt.Errorf("%w: udp_read_buffer %d is above %d bytes", ErrConfig, c.UDPReadBuffer, maxUDPBuffer)
	}
	if c.UDPWriteBuffer > maxUDPBuffer {
		return fmt.Errorf("%w: udp_write_buffer %d is above %d bytes", ErrConfig, c.UDPWriteBuffer, maxUDPBuffer)
	}
	if c.UDPReaders < 1 || c.UDPReaders > maxUDPReaders {
		return fmt.Errorf("%w: udp_readers %d (want 1 to %d)", ErrConfig, c.UDPReaders, maxUDPReaders)
	}
	return nil
}

// bufferGrant is what the kernel granted for one socket buffer.
type bufferGrant struct {
	requested int  // bytes asked for (negative: left at the kernel's default)
	granted   int  // SO_RCVBUF / SO_SNDBUF read back (the kernel doubles the request)
	forced    bool // granted through SO_RCVBUFFORCE / SO_SNDBUFFORCE
}

// capped reports whether the kernel granted less than it would for an
// uncapped request (twice the request).
func (g bufferGrant) capped() bool { return g.requested > 0 && g.granted < 2*g.requested }

// tuneUDP sizes the UDP listener's kernel buffers and logs, at INFO, what
// the kernel granted. A failure is logged and the socket is used as it is.
func (a *Adapter) tuneUDP(pc net.PacketConn) {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return
	}
	rd, err := setBuffer(uc, a.cfg.UDPReadBuffer, false)
	if err != nil {
		a.log.Warn("SIP UDP receive buffer not set", "err", err)
	}
	wr, err := setBuffer(uc, a.cfg.UDPWriteBuffer, true)
	if err != nil {
		a.log.Warn("SIP UDP send buffer not set", "err", err)
	}
	args := []any{"read_requested", rd.requested, "read_granted", rd.granted, "read_forced", rd.forced,
		"write_requested", wr.requested, "write_granted", wr.granted, "write_forced", wr.forced,
		"readers", a.cfg.UDPReaders}
	if rd.capped() || wr.capped() {
		args = append(args, "hint", "the kernel capped the request: raise net.core.rmem_max / wmem_max or grant CAP_NET_ADMIN")
	}
	a.log.Info("SIP UDP socket buffers", args...)
}

// setBuffer sets one buffer (write: the send buffer) to n bytes, forcing
// it past the kernel's cap where the platform and privileges allow, and
// reads back what was granted. n < 0 leaves the kernel's default.
func setBuffer(uc *net.UDPConn, n int, write bool) (bufferGrant, error) {
	g := bufferGrant{requested: n}
	if n > 0 {
		set := uc.SetReadBuffer
		if write {
			set = uc.SetWriteBuffer
		}
		if err := set(n); err != nil {
			return g, fmt.Errorf("set %d bytes: %w", n, err)
		}
	}
	var err error
	if g.granted, err = sockBuffer(uc, write); err != nil {
		return g, err
	}
	if g.capped() && forceBuffer(uc, n, write) == nil {
		g.forced = true
		g.granted, err = sockBuffer(uc, write)
	}
	return g, err
}
