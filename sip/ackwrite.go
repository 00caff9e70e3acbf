package sip

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The ACK of a 2xx is not a transaction (RFC 3261 §13.2.2.4, §17.1.1.3):
// it is one datagram, sent once per 2xx received. sipgo's WriteRequest
// path for it goes through the client's transaction requester (flow
// lookup), the transport layer's destination string (fmt.Sprintf), its
// parse back into host and port, the connection lookup by local address
// with reference counting, and a *net.UDPAddr per write: about a third of
// the ACK's CPU besides the sendto itself. On UDP, when the destination is
// an IP literal, writeAckUDP does the same with less: the Via sipgo would
// add (its branch and sent-by), the request serialised into a pooled
// buffer, one WriteToUDPAddrPort on the listening socket (the socket every
// UDP request of ours leaves from, fromListener). Anything else (TCP, TLS,
// WS, a host name to resolve, no UDP listener) goes through sipgo as
// before.

// ackBufs are the buffers ACKs are serialised into.
var ackBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeAckUDP sends req (an ACK built by dialogState.build) straight to
// the UDP listener. sent is false when req must go through sipgo instead;
// then req is unchanged.
func (a *Adapter) writeAckUDP(req *sip.Request, transport string) (sent bool, err error) {
	uc := a.udpConn
	if uc == nil || !strings.EqualFold(transport, "UDP") || has(req, "via", "v") && req.Via() != nil {
		return false, nil
	}
	dest, ok := a.ackDest(req)
	if !ok {
		return false, nil
	}
	if err := sipgo.ClientRequestAddVia(a.cli, req); err != nil {
		return true, fmt.Errorf("ACK via: %w", err)
	}
	via := req.Via()
	via.Transport = "UDP"
	a.fillSentBy(via) // as sipgo's transport does: the socket's own address
	if req.Body() == nil {
		req.SetBody(nil) // Content-Length: 0
	}
	buf := ackBufs.Get().(*bytes.Buffer)
	defer ackBufs.Put(buf)
	buf.Reset()
	writeRequest(buf, req)
	if _, err := uc.WriteToUDPAddrPort(buf.Bytes(), dest); err != nil {
		return true, fmt.Errorf("ACK to %s: %w", dest, err)
	}
	return true, nil
}

// ackDest is where an ACK goes, as flowRequester and sipgo's transport
// layer would send it: over the dialog's UDP flow if it has one, else to
// a destination set on the request, else to the first Route's URI, else
// to the Request-URI (port 5060 when none). ok is false for anything that
// needs sipgo: a connection-oriented flow, a host name, a bad address.
func (a *Adapter) ackDest(req *sip.Request) (netip.AddrPort, bool) {
	if e, found := a.flows.lookup(req); found {
		if e.f.reliable() {
			return netip.AddrPort{}, false
		}
		ap, err := netip.ParseAddrPort(e.f.remote)
		return ap, err == nil
	}
	return requestDest(req)
}

// listenerUDP is the *net.UDPConn of a UDP listener, nil for anything else.
func listenerUDP(pc net.PacketConn) *net.UDPConn {
	uc, _ := pc.(*net.UDPConn)
	return uc
}
