package sip

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
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

	// shed (nil: off) is told when an INVITE waited more than shedAge:
	// new INVITEs are then refused with 503 at once for a moment.
	shed       *socketShed
	shedAge    time.Duration
	lastShedW  atomic.Int64
	retryAfter string                                 // Retry-After of stateless 503s ("": none are sent)
	taken      *inviteMemo                            // initial INVITEs seen: passed to sipgo or shed (retrans.go; nil: none)
	tags       atomic.Uint64                          // To tags of stateless 503s
	take       func(data []byte, src *udpSource) bool // what the reader handles itself (udptake.go; nil: nothing)
}

// Shedding on the receive queue's delay. A datagram that waited shedAge in
// the socket means the readers are that far behind: every new call would
// wait as long before sipgo even sees it, and so would the responses to
// the INVITEs we send (browser → SIP calls): both senders retransmit at T1
// (500 ms), which adds load, and a UAS that already answered may fail the
// call on our retransmitted INVITE (SIPp does). So while datagrams arrive late,
// new calls get 503 at once: INVITEs with Retry-After (Adapter.shed and
// statelessShed), and, through the gateway's admission
// (gateway.Gateway.AddOverloadSignal), browser and XMPP offers too, until
// the queue is short again. This engages before calls in setup pile up and
// long before INVITEs are old enough to drop (max_invite_age). Every
// datagram counts, not only INVITEs: the queue is FIFO, so a late
// response means a late queue as much as a late INVITE does.
//
// One stall of the whole process (a long GC pause, a descheduled VM, a
// busy test box) makes every datagram queued meanwhile late at once,
// though the readers catch up within milliseconds: that is not overload.
// So shedding starts only once the readers have seen nothing but late
// datagrams for socketShedSustain of reading; one on time starts the count
// again.
const (
	shedInviteAge     = 250 * time.Millisecond // T1 / 2, at most max_invite_age / 2
	socketShedSustain = 100 * time.Millisecond // how long datagrams must stay late before shedding
	socketShedWindow  = 100 * time.Millisecond // how long one late datagram then sheds new calls
)

// socketShed is the adapter's "the receive queue is late" signal.
type socketShed struct {
	lateSince atomic.Int64 // unix nanos of the first late datagram since one on time (0: none)
	lastLate  atomic.Int64 // unix nanos of the last late datagram (0: none yet)
	until     atomic.Int64 // unix nanos: new calls are shed until then
}

// note records a late datagram read at now, and reports whether datagrams
// have been late long enough to shed (shedding then lasts socketShedWindow).
func (s *socketShed) note(now time.Time) bool {
	n := now.UnixNano()
	s.lastLate.Store(n)
	s.lateSince.CompareAndSwap(0, n)
	if n-s.lateSince.Load() < int64(socketShedSustain) {
		return false
	}
	s.until.Store(now.Add(socketShedWindow).UnixNano())
	return true
}

// mark sheds new calls at once for socketShedWindow (a receive queue
// over half full, queuefill_linux.go: no sustain).
func (s *socketShed) mark(now time.Time) {
	s.lastLate.Store(now.UnixNano())
	s.until.Store(now.Add(socketShedWindow).UnixNano())
}

// onTime records a datagram that did not wait long: lateness starts again.
func (s *socketShed) onTime() { s.lateSince.Store(0) }

func (s *socketShed) active(now time.Time) bool { return now.UnixNano() < s.until.Load() }

// recentlyLate reports whether a datagram was late (waited over the shed
// age in the socket) less than a second before now. Unlike lateSince it
// is not reset by a datagram on time.
func (s *socketShed) recentlyLate(now time.Time) bool {
	last := s.lastLate.Load()
	return last != 0 && now.UnixNano()-last < int64(time.Second)
}

// shedAgeFor is the queue delay that sheds new INVITEs for max_invite_age.
func shedAgeFor(maxAge time.Duration) time.Duration { return min(shedInviteAge, maxAge/2) }

var invitePrefix = []byte("INVITE ")

// stale reports whether a datagram received at recv must be dropped (an
// INVITE older than max); every datagram's age feeds the shedding signal.
func (f *staleFilter) stale(data []byte, recv, now time.Time) bool {
	if recv.IsZero() {
		return false
	}
	age := now.Sub(recv)
	if f.shed != nil {
		if age > f.shedAge {
			f.late(age, now)
		} else {
			f.shed.onTime()
		}
	}
	if f.max <= 0 || age <= f.max || !bytes.HasPrefix(data, invitePrefix) {
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
	f := &staleFilter{max: a.cfg.MaxInviteAge, log: a.log, m: a.gm, shed: &a.sockShed, shedAge: shedAgeFor(a.cfg.MaxInviteAge),
		taken: &a.invites, take: a.takeUDP}
	if a.gw != nil {
		f.retryAfter = strconv.Itoa(max(int(a.gw.Config().ShedRetryAfter.Seconds()), 1))
	}
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
	if warnDue(&f.lastWarn, now) {
		f.log.Warn("SIP UDP receive queue is long: dropping INVITEs that waited too long",
			"age", age.Round(time.Millisecond), "max_invite_age", f.max)
	}
}

// late notes a datagram that waited age; once datagrams have been late for
// socketShedSustain it starts (or prolongs) shedding, and warns at most
// every 10 s.
func (f *staleFilter) late(age time.Duration, now time.Time) {
	if f.shed.note(now) && warnDue(&f.lastShedW, now) {
		f.log.Warn("SIP UDP receive queue is late: new calls get 503 until it is short again",
			"age", age.Round(time.Millisecond), "shed_above", f.shedAge)
	}
}

// full notes a receive queue over half its buffer (queuefill_linux.go, which
// checks only while f.shed is set): new calls are shed at once for
// socketShedWindow; warned at most every 10 s.
func (f *staleFilter) full(now time.Time) {
	f.shed.mark(now)
	if warnDue(&f.lastShedW, now) {
		f.log.Warn("SIP UDP receive queue is over half full: new calls get 503 until it is shorter")
	}
}

// warnDue reports whether a warning last given at *last (unix nanos) may be
// given again at now (staleWarnEvery later), and claims it if so.
func warnDue(last *atomic.Int64, now time.Time) bool {
	l := last.Load()
	return now.UnixNano()-l >= int64(staleWarnEvery) && last.CompareAndSwap(l, now.UnixNano())
}

// statelessShed answers an initial INVITE with 503 and Retry-After straight
// from the UDP reader while the receive queue is late: no sipgo parsing, no
// server transaction (RFC 3261 §8.2.6 allows a stateless final response;
// the peer's ACK and retransmissions find no transaction and get the same
// answer). It returns the response, or nil to let sipgo handle the
// datagram: not shedding, not an INVITE, an in-dialog INVITE (To has a
// tag: calls in progress are never shed), a retransmission of an INVITE
// passed to sipgo before (retrans.go: the reader remembers the Call-ID of
// every initial INVITE it passes on), or anything unusual (folded or
// missing headers). A retransmission of an INVITE it shed gets the same
// 503 (same To tag) again, shedding or not.
func (f *staleFilter) statelessShed(data []byte, now time.Time) []byte {
	if f.shed == nil || !bytes.HasPrefix(data, invitePrefix) {
		return nil
	}
	shedding := f.retryAfter != "" && f.shed.active(now)
	if !shedding && f.taken == nil {
		return nil
	}
	h, ok := parseInviteHead(data, shedding)
	if !ok || h.inDialog {
		return nil
	}
	tag, again := f.shedTag(h.callIDValue, cseqNumber(h.cseq), shedding, now)
	switch {
	case tag == 0:
		return nil // new while on time, or a retransmission of one sipgo took: its transaction answers it
	case again && !shedding: // a retransmission of an INVITE shed before: the same 503 again
		if h, ok = parseInviteHead(data, true); !ok {
			return nil
		}
	}
	out := make([]byte, 0, len(data)+128)
	out = append(out, "SIP/2.0 503 Service Unavailable\r\n"...)
	for _, v := range h.via {
		out = append(append(out, v...), "\r\n"...)
	}
	out = append(append(out, h.from...), "\r\n"...)
	out = append(append(out, h.to...), ";tag=shed"...)
	out = strconv.AppendUint(out, tag, 36)
	out = append(out, "\r\n"...)
	out = append(append(out, h.callID...), "\r\n"...)
	out = append(append(out, h.cseq...), "\r\n"...)
	out = append(append(out, "Retry-After: "...), f.retryAfter...)
	out = append(out, "\r\nContent-Length: 0\r\n\r\n"...)
	if !again {
		f.m.CallShed("sip", signalSocketDelay)
	}
	return out
}

// shedTag is the To tag number of the 503 for an initial INVITE (0: pass
// it to sipgo) and whether that INVITE was shed before (a retransmission).
// Without a memo every INVITE is new and shed while shedding.
func (f *staleFilter) shedTag(callID []byte, cseq uint32, shedding bool, now time.Time) (tag uint64, again bool) {
	if f.taken == nil {
		if !shedding {
			return 0, false
		}
		return f.tags.Add(1), false
	}
	return f.taken.decide(callID, cseq, shedding, now, &f.tags)
}

// inviteHead is what statelessShed reads of an INVITE: whole header lines
// to copy into a 503, and the Call-ID's value.
type inviteHead struct {
	via                    [][]byte
	from, to, callID, cseq []byte
	callIDValue            []byte
	hasVia, inDialog       bool
}

// parseInviteHead reads the header lines of an INVITE datagram; ok is
// false for anything unusual (no end of headers, folded lines, a line
// without a colon, a CSeq of another method, a missing Via, From, To,
// Call-ID or CSeq), which is then left to sipgo. It allocates nothing
// unless withVia (the Via lines, for a 503): every INVITE read on UDP
// passes through it.
func parseInviteHead(data []byte, withVia bool) (h inviteHead, ok bool) {
	head, _, found := bytes.Cut(data, []byte("\r\n\r\n"))
	if !found {
		return h, false
	}
	_, head, _ = bytes.Cut(head, []byte("\r\n")) // the request line
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			return h, false // folded: leave it to sipgo
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return h, false
		}
		switch name = bytes.TrimSpace(name); {
		case isHeader(name, "via", 'v'):
			h.hasVia = true
			if withVia {
				h.via = append(h.via, line)
			}
		case isHeader(name, "from", 'f'):
			h.from = line
		case isHeader(name, "to", 't'):
			h.to = line
			h.inDialog = containsFold(value, "tag=")
		case isHeader(name, "call-id", 'i'):
			h.callID, h.callIDValue = line, bytes.TrimSpace(value)
		case isHeader(name, "cseq", 0):
			if !bytes.HasSuffix(bytes.TrimSpace(value), []byte("INVITE")) {
				return h, false
			}
			h.cseq = line
		}
	}
	ok = h.hasVia && h.from != nil && h.to != nil && len(h.callIDValue) > 0 && h.cseq != nil
	return h, ok
}

// isHeader reports whether name is long (any case) or its compact form
// (RFC 3261 §7.3.3; 0: none).
func isHeader(name []byte, long string, compact byte) bool {
	if len(name) == 1 {
		return compact != 0 && name[0]|0x20 == compact
	}
	return len(name) == len(long) && bytes.EqualFold(name, []byte(long))
}

// containsFold reports whether s contains sub, ignoring ASCII case,
// without allocating.
func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(sub)], []byte(sub)) {
			return true
		}
	}
	return false
}
