package sip

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// A request of ours leaving over UDP from the listening socket (the INVITE,
// a dialog's requests: fromListener) went through sipgo's transport layer for its connection:
// the destination as a string (fmt.Sprintf) parsed back into host and
// port, the listener looked up in the connection pool by its local address
// as a string (net.JoinHostPort, net.IP.String, strconv), its reference
// count taken and released, a *net.UDPAddr per write; about a dozen
// allocations a request, and again for each retransmission and the ACK of
// a non-2xx answer. When the destination is an IP literal, listenerConn
// gives the client transaction a connection that does the same with less,
// as writeAckUDP does for the ACK of a 2xx: the Via's sent-by filled in as
// sipgo's transport would (overrideSentBy), the request serialised into a
// pooled buffer (writeRequest, the same bytes), one WriteToUDPAddrPort on
// the listening socket. Anything else (a request not from the listener:
// sipgo picks another socket for it; a host name to resolve; no Via: sipgo
// refuses it) goes through sipgo as before.

// udpTxConn is the sip.Connection of a client transaction whose requests
// leave from the listener uc to dest. It holds no reference: the listener
// is the adapter's, closed by it.
type udpTxConn struct {
	uc   *net.UDPConn
	dest netip.AddrPort
}

var _ sip.Connection = (*udpTxConn)(nil)

// listenerConn returns the connection for req (a request over UDP with its
// Via), and fills in the Via's sent-by; false: req goes through sipgo's
// transport layer.
func (a *Adapter) listenerConn(req *sip.Request) (*udpTxConn, bool) {
	uc := a.udpConn
	if uc == nil || !a.fromOurListener(req.Laddr) {
		return nil, false
	}
	via := req.Via()
	if via == nil {
		return nil, false
	}
	dest, ok := requestDest(req)
	if !ok {
		return nil, false
	}
	a.fillSentBy(via)
	return &udpTxConn{uc: uc, dest: dest}, true
}

// fromOurListener reports whether laddr is the UDP listener's address, as
// fromListener sets it: sipgo would write from the listener then.
func (a *Adapter) fromOurListener(laddr sip.Addr) bool {
	if laddr.IP == nil || laddr.Zone != "" || !a.udpAddr.IsValid() || laddr.Port != int(a.udpAddr.Port()) {
		return false
	}
	ip, ok := netip.AddrFromSlice(laddr.IP)
	return ok && ip == a.udpAddr.Addr()
}

// fillSentBy completes a Via's sent-by with the listener's address, as
// sipgo's transport layer does for the connection a request leaves by:
// only what is missing.
func (a *Adapter) fillSentBy(via *sip.ViaHeader) {
	if via.Host == "" {
		via.Host = a.udpAddr.Addr().String()
	}
	if via.Port == 0 {
		via.Port = int(a.udpAddr.Port())
	}
}

// LocalAddr is the socket's address.
func (c *udpTxConn) LocalAddr() net.Addr { return c.uc.LocalAddr() }

// WriteMsg writes msg to dest in one datagram, with sipgo's size limit and
// errors (UDPConnection.WriteMsg).
func (c *udpTxConn) WriteMsg(msg sip.Message) error {
	buf := ackBufs.Get().(*bytes.Buffer)
	defer ackBufs.Put(buf)
	buf.Reset()
	if req, ok := msg.(*sip.Request); ok {
		writeRequest(buf, req)
	} else {
		msg.StringWrite(buf)
	}
	data := buf.Bytes()
	if len(data) > sip.UDPMTUSize-200 {
		return sip.ErrUDPMTUCongestion
	}
	n, err := c.uc.WriteToUDPAddrPort(data, c.dest)
	switch {
	case err != nil:
		return fmt.Errorf("udp conn %s err. %w", c.uc.LocalAddr().String(), err)
	case n == 0:
		return fmt.Errorf("wrote 0 bytes")
	case n != len(data):
		return fmt.Errorf("fail to write full message")
	}
	return nil
}

// Ref, TryClose and Close leave the listener open: it is not counted.
func (c *udpTxConn) Ref(int) int { return 1 }

func (c *udpTxConn) TryClose() (int, error) { return 1, nil }

func (c *udpTxConn) Close() error { return nil }

// requestDest is where sipgo's transport layer sends req over UDP: to the
// destination set on it (a flow's, routeOverFlow), else to the first
// Route's URI, else to the Request-URI (port 5060 when none). ok is false
// for anything that needs sipgo: a host name, a bad address, a URI that
// asks for another transport, an maddr or TLS.
func requestDest(req *sip.Request) (netip.AddrPort, bool) {
	if d := req.MessageData.Destination(); d != "" {
		ap, err := netip.ParseAddrPort(d)
		return ap, err == nil
	}
	uri := &req.Recipient
	if hasRoute(req) {
		if rh := req.Route(); rh != nil {
			uri = &rh.Address
		}
	}
	if uri.UriParams != nil {
		if t, ok := uri.UriParams.Get("transport"); ok && !strings.EqualFold(t, "udp") {
			return netip.AddrPort{}, false
		}
		if _, ok := uri.UriParams.Get("maddr"); ok {
			return netip.AddrPort{}, false
		}
	}
	if uri.Scheme == "sips" {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(uri.Host, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, false // a name: sipgo resolves it
	}
	port := uri.Port
	if port == 0 {
		port = sip.DefaultUdpPort
	}
	if port < 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

// hasRoute reports whether req has a Route header, as sipgo's lookup by
// name finds it ("route" in any case; it has no compact form), without
// that lookup's lowercasing of every name it walks past: an allocation
// for each name it does not know (User-Agent, Allow, the loop header).
func hasRoute(req *sip.Request) bool {
	for _, h := range req.Headers() {
		if strings.EqualFold(h.Name(), "route") { // no non-ASCII letter folds to one of "route"
			return true
		}
	}
	return false
}
