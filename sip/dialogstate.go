package sip

import (
	"context"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// dialogState is what a confirmed dialog keeps to send requests in it
// (RFC 3261 §12.2.1.1): the Call-ID, our From (our URI and tag) and the
// peer's To (its URI and tag), our CSeq, the route set and the transport.
// It replaces sipgo's dialog session once the ACK is done: the session
// holds the whole INVITE, its 2xx (both with their SDP and every parsed
// header) and the INVITE transaction for the life of the call, which at
// thousands of held calls is most of the adapter's memory. The remote
// target stays with the leg (legCore.remoteTarget), which updates it on
// target refreshes; requests carry it as their Request-URI.
type dialogState struct {
	a         *Adapter
	callID    sip.CallIDHeader
	from      sip.FromHeader // us
	to        sip.ToHeader   // the peer
	cseq      atomic.Uint32  // our last CSeq
	routes    []string       // Route header values, in order
	routeDest bool           // send to the first route's address (sipgo's UAS behaviour)
	transport string
}

// uacDialog is the dialog of our answered INVITE: the route set is the
// 2xx's Record-Route in reverse (RFC 3261 §12.1.2).
func (a *Adapter) uacDialog(inv *sip.Request, res *sip.Response) *dialogState {
	d := &dialogState{a: a, transport: inv.Transport()}
	d.callID = *inv.CallID()
	d.from = cloneFrom(inv.From())
	d.to = cloneTo(res.To())
	d.cseq.Store(inv.CSeq().SeqNo)
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		d.routes = append(d.routes, rr[i].Value())
	}
	return d
}

// cloneFrom is *sip.HeaderClone(h) without the header HeaderClone
// allocates only for it to be copied: the same deep copy (address,
// parameters), as a value.
func cloneFrom(h *sip.FromHeader) sip.FromHeader {
	c := sip.FromHeader{DisplayName: h.DisplayName, Address: *h.Address.Clone()}
	if h.Params != nil {
		c.Params = h.Params.Clone()
	}
	return c
}

// cloneTo is cloneFrom for a To header (sipgo's From and To headers are
// the same struct).
func cloneTo(h *sip.ToHeader) sip.ToHeader {
	return sip.ToHeader(cloneFrom((*sip.FromHeader)(h)))
}

// uasDialog is the dialog of an INVITE we answered (inv carries our To
// tag): the route set is its Record-Route in order (RFC 3261 §12.1.1).
// Our CSeq starts from the INVITE's, as sipgo's dialog did.
func (a *Adapter) uasDialog(inv *sip.Request) *dialogState {
	d := &dialogState{a: a, transport: inv.Transport(), routeDest: true}
	d.callID = *inv.CallID()
	d.from = inv.To().AsFrom()
	d.to = inv.From().AsTo()
	d.cseq.Store(inv.CSeq().SeqNo)
	for _, h := range inv.GetHeaders("Record-Route") {
		d.routes = append(d.routes, h.Value())
	}
	return d
}

// build adds the dialog's headers to req (whose Request-URI is the remote
// target): From, To, Call-ID, CSeq seq, Max-Forwards, Route, a Contact if
// it has none, and the transport.
func (d *dialogState) build(req *sip.Request, seq uint32) {
	if cseq := cseqOf(req); cseq != nil { // a request sent again (digest): new CSeq only
		cseq.SeqNo = seq
	} else {
		// The dialog's From, To and Call-ID are shared by its requests,
		// not cloned for each: they are never changed, neither by us
		// once the dialog is made nor by sipgo in a request it sends.
		own := &requestHeaders{cseq: sip.CSeqHeader{SeqNo: seq, MethodName: req.Method}, maxFwd: 70}
		hs := [...]sip.Header{&d.from, &d.to, &d.callID, &own.cseq, &own.maxFwd}
		if len(req.Headers()) > 0 {
			req.PrependHeader(hs[:]...)
		} else {
			// A new request (an ACK, a BYE): the same order, appended into
			// the slice NewRequest made, where PrependHeader makes a new
			// one, which the next header appended outgrows.
			for _, h := range hs {
				req.AppendHeader(h)
			}
		}
	}
	for _, r := range d.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	if rh := routeOf(req); rh != nil {
		switch {
		case d.routeDest:
			req.SetDestination(rh.Address.HostPort())
		case !rh.Address.UriParams.Has("lr"):
			req.Recipient = rh.Address // strict routing, as sipgo does
		}
	}
	if !has(req, "contact", "m") || req.Contact() == nil {
		if ua := d.a.dialogUA(); ua != nil {
			req.AppendHeader(ua.ContactHDR.Clone()) // as sipgo's dialogs did
		}
	}
	req.SetTransport(d.transport)
}

// requestHeaders are the headers build makes for each request, allocated
// together.
type requestHeaders struct {
	cseq   sip.CSeqHeader
	maxFwd sip.MaxForwardsHeader
}

// transaction sends req in the dialog with our next CSeq and returns its
// client transaction. The headers in tail (the BYE's Reason) are appended
// after the dialog's, the Via and the Content-Length: sipgo looks those up
// by name before adding any that is missing, and a lookup of a missing
// header lowercases the name of every header it walks past, an
// allocation for each name it does not know (Reason). Over UDP the
// request leaves from our listener, as the INVITE and the ACK do: the
// address our Contact and Via give, where the peer expects our requests
// (without it sipgo sent them from a socket of its own, on a port of its
// choosing, and read their responses there).
func (d *dialogState) transaction(ctx context.Context, req *sip.Request, tail ...sip.Header) (sip.ClientTransaction, error) {
	d.build(req, d.cseq.Add(1))
	d.a.fromListener(req, d.transport)
	if len(tail) > 0 {
		if err := addVia(d.a.cli, req); err != nil {
			return nil, err
		}
		for _, h := range tail {
			req.AppendHeader(h)
		}
	}
	return d.a.cli.TransactionRequest(ctx, req, addVia)
}

// ack acknowledges the 2xx to our INVITE (or re-INVITE) with CSeq cseq:
// sent to the transport, from our listener, without a transaction (RFC
// 3261 §13.2.2.4). It is also how a retransmitted 2xx is answered. On
// UDP it is written to the listener directly (ackwrite.go).
func (d *dialogState) ack(target sip.Uri, cseq uint32) error {
	req := sip.NewRequest(sip.ACK, target)
	d.build(req, cseq)
	if sent, err := d.a.writeAckUDP(req, d.transport); sent {
		return err
	}
	d.a.fromListener(req, d.transport)
	return d.a.cli.WriteRequest(req, addVia)
}

// localTag is our tag in the dialog.
func (d *dialogState) localTag() string {
	tag, _ := d.from.Params.Get("tag")
	return tag
}

// addVia is the client option of in-dialog requests: a Via (with a new
// branch) and a Content-Length; everything else is the dialog's.
func addVia(c *sipgo.Client, req *sip.Request) error {
	if !has(req, "via", "v") || req.Via() == nil {
		if err := sipgo.ClientRequestAddVia(c, req); err != nil {
			return err
		}
	}
	if req.Body() == nil {
		req.SetBody(nil)
	}
	return nil
}

// cseqOf is req.CSeq(), without its allocation when req has none (has).
func cseqOf(req *sip.Request) *sip.CSeqHeader {
	if !has(req, "cseq", "") {
		return nil
	}
	return req.CSeq()
}

// routeOf is req.Route(), without its allocation when req has none (has).
func routeOf(req *sip.Request) *sip.RouteHeader {
	if !has(req, "route", "") {
		return nil
	}
	return req.Route()
}
