package sip

import (
	"bytes"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// signalSocketDelay is the `signal` label of INVITEs dropped because they
// waited too long in the UDP socket's receive queue.
const signalSocketDelay = "socket_delay"

// staleWarnEvery spaces the WARN lines about dropped stale INVITEs.
const staleWarnEvery = 10 * time.Second

// staleFilter drops INVITE datagrams that waited in the kernel's receive
// queue longer than max before sipgo reads them: their senders have
// retransmitted them several times (0.5, 1, 2 s ...) and most have given
// up, and skipping them unparsed is what lets a long queue drain. Other
// datagrams (ACK, BYE, CANCEL, responses) are never dropped: they end or
// complete calls. The receive time is the kernel's (SO_TIMESTAMPNS, see
// stale_linux.go); where the platform has none, nothing is dropped.
type staleFilter struct {
	max      time.Duration
	log      *slog.Logger
	m        *gateway.Metrics
	lastWarn atomic.Int64
}

var invitePrefix = []byte("INVITE ")

// stale reports whether a datagram received at recv must be dropped.
func (f *staleFilter) stale(data []byte, recv, now time.Time) bool {
	if f.max <= 0 || recv.IsZero() || !bytes.HasPrefix(data, invitePrefix) {
		return false
	}
	age := now.Sub(recv)
	if age <= f.max {
		return false
	}
	f.dropped(age, now)
	return true
}

// watchUDP wraps the UDP listener so stale INVITEs are dropped unread
// (Config.MaxInviteAge; negative: the socket is used as is). Each reader
// goroutine gets its own wrapper.
func (a *Adapter) watchUDP(pc net.PacketConn) net.PacketConn {
	if a.cfg.MaxInviteAge <= 0 {
		return pc
	}
	f := &staleFilter{max: a.cfg.MaxInviteAge, log: a.log, m: a.gm}
	out, err := stampPackets(pc, f)
	if err != nil {
		a.log.Warn("no kernel receive times on the SIP UDP socket; stale INVITEs are not dropped", "err", err)
		return pc
	}
	return out
}

// dropped counts one dropped INVITE and warns at most every 10 s.
func (f *staleFilter) dropped(age time.Duration, now time.Time) {
	f.m.CallShed("sip", signalSocketDelay)
	last := f.lastWarn.Load()
	if now.UnixNano()-last >= int64(staleWarnEvery) && f.lastWarn.CompareAndSwap(last, now.UnixNano()) {
		f.log.Warn("SIP UDP receive queue is long: dropping INVITEs that waited too long",
			"age", age.Round(time.Millisecond), "max_invite_age", f.max)
	}
}
