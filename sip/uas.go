package sip

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// rejection is a refused INVITE: the status we answer with and the metric
// label of the denial ("" when it is not a policy denial).
type rejection struct {
	code   int
	reason string
	hdrs   []sip.Header
	deny   string
}

// inCall is an admitted inbound INVITE, ready to be placed.
type inCall struct {
	caller  string
	target  string
	offer   *sdp.SessionDescription
	anchor  bool // a plain-RTP offer, anchored in rtpengine (anchor.go)
	release func()
}

// inbound handles a dialog-creating INVITE: admission, then the call
// placed through the gateway. The handler goroutine becomes the leg's
// goroutine until the call ends.
//
// No 100 Trying of ours: the INVITE server transaction (ours on UDP,
// servertx.go, or sipgo's) sends one
// itself 200 ms after the INVITE (sip.Timer_1xx) unless a response was
// sent first, as RFC 3261 §17.2.1 asks of a TU that may take longer than
// 200 ms. A refusal, the 180 of a ringing browser or its answer usually
// comes sooner, and the 100 they make needless was a response built,
// written and sent for every call (TestInboundTryingOnlyWhenSlow).
//
// Except while the UDP receive queue is late: an INVITE that waited over
// 300 ms in the socket can have its first retransmission (T1, 500 ms)
// right behind it, and sipgo's transaction stops that 200 ms timer when it
// receives a retransmission before any response, then answers it with
// nothing (ours answers it 100 Trying, srvTx.retransmission): a callee that never rings (most browsers) would leave the
// caller without a provisional response until its Timer B (32 s) ends the
// call. So when a datagram was late (over the shed age, 250 ms) in the
// last second, the 100 goes at once, as it always did.
func (a *Adapter) inbound(req *sip.Request, tx sip.ServerTransaction) {
	if rej := a.shed(); rej != nil {
		a.refuse(req, tx, rej)
		return
	}
	if a.sockShed.recentlyLate(time.Now()) {
		a.reply(req, tx, 100, "Trying")
	}
	ic, rej := a.admit(req)
	if rej != nil {
		a.refuse(req, tx, rej)
		return
	}
	dua := a.dialogUA()
	if dua == nil {
		ic.release()
		a.refuse(req, tx, a.unavailable("not started"))
		return
	}
	sess, err := readInvite(dua, req, tx)
	if err != nil {
		ic.release()
		a.refuse(req, tx, &rejection{code: 400, reason: "Bad Request"})
		return
	}
	a.place(req, tx, sess, ic)
}

// admit runs the checks of protocols.md §5.2 (incoming, step 1) in order.
func (a *Adapter) admit(req *sip.Request) (inCall, *rejection) {
	if a.isLoop(req) {
		return inCall{}, &rejection{code: 482, reason: "Loop Detected", deny: "loop"}
	}
	if a.gw == nil || a.gw.Draining() || a.stopping.Load() {
		return inCall{}, a.unavailable("draining")
	}
	caller, rej := a.authenticate(req)
	if rej != nil {
		return inCall{}, rej
	}
	offer, anchor, rej := a.inboundOffer(req)
	if rej != nil {
		return inCall{}, rej
	}
	target, rej := a.inboundTarget(req)
	if rej != nil {
		return inCall{}, rej
	}
	release, err := a.limits.acquire("in:" + caller)
	if err != nil {
		return inCall{}, a.unavailable("limit")
	}
	return inCall{caller: caller, target: target, offer: offer, anchor: anchor, release: release}, nil
}

func (a *Adapter) isLoop(req *sip.Request) bool {
	if h := req.GetHeader(loopHeader); h != nil && h.Value() == a.loopTok {
		return true
	}
	return a.dialogs.isOut(req.CallID().Value())
}

func (a *Adapter) unavailable(deny string) *rejection {
	secs := strconv.Itoa(int(a.cfg.RetryAfter.Seconds()))
	return &rejection{code: 503, reason: "Service Unavailable", deny: deny,
		hdrs: []sip.Header{sip.NewHeader("Retry-After", secs)}}
}

// inboundOffer parses and checks the INVITE's SDP offer. A plain-RTP
// offer is anchored (true) when rtpengine is configured, else refused.
func (a *Adapter) inboundOffer(req *sip.Request) (*sdp.SessionDescription, bool, *rejection) {
	sd, err := sdpBody(req)
	switch {
	case errors.Is(err, errNoSDP):
		return nil, false, a.notAcceptable("offerless INVITE not supported", "offerless")
	case errors.Is(err, errUnsupportedBody):
		return nil, false, &rejection{code: 415, reason: "Unsupported Media Type",
			hdrs: []sip.Header{sip.NewHeader("Accept", "application/sdp")}}
	case err != nil:
		code, _ := gateway.Status(err)
		return nil, false, &rejection{code: code, reason: statusText(code), hdrs: []sip.Header{a.warning("malformed SDP")}}
	}
	if err := checkWebRTC(sd); err != nil {
		if a.anchors != nil && isPlainRTP(sd) {
			return sd, true, nil
		}
		return nil, false, a.notAcceptable("offer needs ICE and DTLS-SRTP", "no-webrtc")
	}
	return sd, false, nil
}

func (a *Adapter) notAcceptable(text, deny string) *rejection {
	return &rejection{code: 488, reason: "Not Acceptable Here", deny: deny, hdrs: []sip.Header{a.warning(text)}}
}

// warning is a "Warning: 399 <host> "text"" header; text is ours, never input.
func (a *Adapter) warning(text string) sip.Header {
	return sip.NewHeader("Warning", fmt.Sprintf("399 %s %s", a.cfg.Host, quoteDisplayName(text)))
}

// inboundTarget resolves the Request-URI user: an account's AOR reaches its
// LocalUser, anything else is a router target. SIP and tel targets are
// refused: inbound SIP never goes back out to SIP (no hairpin, no toll fraud).
func (a *Adapter) inboundTarget(req *sip.Request) (string, *rejection) {
	user := req.Recipient.User
	if acc := a.accountFor(user); acc != nil {
		return acc.localUser, nil
	}
	target, err := unescapeUser(user)
	if err != nil || target == "" {
		return "", &rejection{code: 404, reason: "Not Found"}
	}
	t, err := gateway.ParseTarget(target)
	if err != nil {
		return "", &rejection{code: 404, reason: "Not Found"}
	}
	if t.Scheme == gateway.SchemeSIP || t.Scheme == gateway.SchemeTel {
		return "", &rejection{code: 403, reason: "Forbidden", deny: "hairpin"}
	}
	return target, nil
}

// refuse answers an INVITE we will not place.
func (a *Adapter) refuse(req *sip.Request, tx sip.ServerTransaction, rej *rejection) {
	if rej.deny != "" && rej.code != 401 {
		a.m.deny("in", rej.deny)
		a.log.Info("inbound call refused", "code", rej.code, "why", rej.deny, "source", req.Source())
	}
	if rej.code >= 300 {
		a.m.call("in", rej.code)
	}
	a.reply(req, tx, rej.code, rej.reason, rej.hdrs...)
}

// place starts the call through the gateway and runs the leg.
func (a *Adapter) place(req *sip.Request, tx sip.ServerTransaction, sess *uasInvite, ic inCall) {
	leg := newInLeg(a, sess, req, tx, ic.release)
	leg.noteRemote(ic.offer)
	offer := ic.offer
	if ic.anchor {
		if offer = leg.anchorOffer(ic.offer); offer == nil {
			return
		}
	}
	// The adapter's context: the leg's own would end only in finish, on
	// this goroutine after Place returns (legCore.context).
	call, err := a.gw.Place(a.ctx, gateway.PlaceRequest{Caller: leg, From: ic.caller, Target: ic.target, Offer: offer})
	if err != nil {
		leg.placeFailed(err)
		return
	}
	leg.call = call
	leg.log = lazylog.WithAttrs(leg.log, slog.String("call", call.ID()))
	leg.run()
}

// inLeg is the leg of a SIP caller (we are the UAS).
type inLeg struct {
	*legCore
	sess        *uasInvite            // until the ACK
	tx          sip.ServerTransaction // the INVITE's, until the ACK
	acc         *acceptedInvite       // what a retransmitted INVITE finds (timerl.go)
	acked       chan bool             // the ACK of our 2xx or a BYE standing for it (true), the flow's end (false)
	awaitingAck atomic.Bool           // our 2xx is out, its ACK not in
	inviteCSeq  uint32
	rang        bool
	finalCode   int
}

func newInLeg(a *Adapter, sess *uasInvite, req *sip.Request, tx sip.ServerTransaction, release func()) *inLeg {
	log := legLog(a, "in", slog.String("callid", req.CallID().Value()))
	l := &inLeg{legCore: newLegCore(a, "in", nil, release, log), sess: sess, tx: tx, inviteCSeq: req.CSeq().SeqNo,
		acked: make(chan bool, 1)}
	l.self = l
	l.acc = a.rememberInvite(req)
	l.transport = req.Transport()
	l.remoteCSeq = req.CSeq().SeqNo
	if c := req.Contact(); c != nil {
		l.remoteTarget = *c.Address.Clone()
	}
	l.bindFlow(req.CallID().Value(), sess.tag, requestFlow(req))
	a.addLeg(l.legCore) // once built: Shutdown may Deliver to it from now on
	return l
}

// placeFailed answers the INVITE with the status of a gateway error.
func (l *inLeg) placeFailed(err error) {
	defer l.finish()
	code, _ := gateway.Status(err)
	l.log.Info("inbound call not placed", "code", code, "err", err)
	l.respond(code, l.a.placeFailedHeaders(code, err)...)
}

// respond sends a final non-2xx answer to the INVITE.
func (l *inLeg) respond(code int, hdrs ...sip.Header) {
	l.finalCode = code
	l.a.m.call("in", code)
	l.a.gm.Error("sip", code)
	if err := l.sess.Respond(code, statusText(code), nil, hdrs...); err != nil {
		l.log.Debug("final response not sent", "code", code, "err", err)
	}
}

func (l *inLeg) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if req.CSeq().SeqNo == l.inviteCSeq {
		l.ackArrived()
		return
	}
	l.ackSeen(req.CSeq().SeqNo)
}

// ackArrived ends the wait for the ACK of our 2xx (accept), if there is one.
func (l *inLeg) ackArrived() { l.endAckWait(true) }

// flowGone implements flowLeg: the dialog's connection closed. That also
// ends a wait for the ACK, which can no longer come (sipgo drops what
// arrives on a closed connection); the leg then ends the call.
func (l *inLeg) flowGone() {
	l.legCore.flowGone()
	l.endAckWait(false)
}

func (l *inLeg) endAckWait(acked bool) {
	if !l.awaitingAck.Load() {
		return // not answered yet, or confirmed: a retransmitted ACK
	}
	select {
	case l.acked <- acked:
	default:
	}
}

// byeBeforeAck: a BYE in the dialog of our 2xx while the leg still waits
// for that 2xx's ACK (accept). The BYE carries our To tag, which its
// sender can only have from our 2xx: it has the 2xx, and its ACK was lost
// or is queued behind the BYE. Left alone, the BYE would wait in the leg's
// queue until the leg gave up on the ACK (64*T1, 32 s), its sender would
// give up on the BYE first (SIPp after -recv_timeout), and the gateway
// would then BYE a dialog the caller already ended. So the BYE ends the
// wait as the ACK would (the dialog is confirmed), and the leg answers it
// 200 and hangs up the other leg as in any confirmed dialog (RFC 3261
// §15.1.2). Under overload the kernel drops datagrams when the socket's
// receive queue is full, ACKs included.
func (l *inLeg) byeBeforeAck() {
	if l.awaitingAck.Load() {
		l.log.Debug("BYE before the ACK of our 200: the dialog is confirmed")
		l.ackArrived()
	}
}

// run is the leg's goroutine (sipgo's INVITE handler's) until the dialog
// is confirmed: then the handler returns, and the dialog keeps its
// dialogState, not the session. sipgo ends the INVITE's transaction at
// Timer L, timerL after our 2xx (timerl.go).
func (l *inLeg) run() {
	if l.setup(l.alerting) {
		l.dropInvite()
		l.confirmed()
	}
}

// dropInvite lets go of the INVITE, its transaction and the session once
// the dialog is confirmed: the offer was parsed at admission and the
// dialog keeps its dialogState. The transaction lives on until Timer L,
// one second after our 2xx (timerl.go), no longer 32 s: ours on UDP keeps
// neither the INVITE nor our 2xx by then (servertx.go), and the session's
// callbacks on it hold a channel (uasInvite).
func (l *inLeg) dropInvite() {
	l.sess, l.tx = nil, nil
}

// alerting runs until the call is answered (true) or over (false).
func (l *inLeg) alerting() bool {
	for !l.ended {
		x, ok := l.next(l.sess.done())
		if !ok {
			l.cancelled()
			return false
		}
		if l.alertingEvent(x) {
			return true
		}
	}
	return false
}

func (l *inLeg) alertingEvent(x any) bool {
	switch e := x.(type) {
	case gateway.Ringing:
		l.ring()
	case gateway.Answer:
		return l.answer(e.SDP)
	case gateway.Hangup:
		l.respond(e.Reason.SIPCode(), reasonHeader(e.Reason))
		l.ended = true
	case *inRequest:
		l.earlyRequest(e)
	case flowClosed:
		l.log.Info("SIP connection closed before the answer")
		l.finalCode = 487
		l.a.m.call("in", 487)
		l.hangup(ReasonFlowClosed)
	}
	return false
}

func (l *inLeg) ring() {
	if l.rang {
		return
	}
	l.rang = true
	if err := l.sess.Respond(180, "Ringing", nil, l.contactHeader()); err != nil {
		l.log.Debug("180 not sent", "err", err)
	}
}

// cancelled: the INVITE transaction ended before an answer (CANCEL, which
// the transaction already answered with 200 and 487, or a transport
// failure), or the
// adapter is closing.
func (l *inLeg) cancelled() {
	if l.a.ctx.Err() != nil {
		l.respond(503)
		l.hangup(gateway.ReasonShutdown)
		return
	}
	l.finalCode = 487
	l.a.m.call("in", 487)
	l.hangup(gateway.ReasonCancel)
}

// earlyRequest answers in-dialog requests that arrive before our 2xx.
func (l *inLeg) earlyRequest(r *inRequest) {
	defer r.finish()
	if r.req.Method == sip.BYE {
		l.a.reply(r.req, r.tx, 200, "OK")
		l.byeIn = true
		l.respond(487)
		l.hangup(gateway.ReasonCancel)
		return
	}
	l.a.reply(r.req, r.tx, 491, "Request Pending")
}

// anchorOffer passes a plain-RTP offer through rtpengine; nil (the INVITE
// refused with 503, the leg finished) when rtpengine fails.
func (l *inLeg) anchorOffer(sd *sdp.SessionDescription) *sdp.SessionDescription {
	l.anchor = l.a.anchors.newAnchor()
	l.log = lazylog.WithAttrs(l.log, slog.String("rtpengine-call", l.anchor.callID))
	web, err := l.anchor.toWeb(l.context(), sd, true)
	if err == nil {
		return web
	}
	defer l.finish()
	l.log.Warn("inbound plain-RTP call needs rtpengine, which failed", "err", err)
	l.a.m.deny("in", "rtpengine")
	rej := l.a.unavailable("rtpengine")
	l.respond(503, append(rej.hdrs, l.a.warning("media relay unavailable"))...)
	return nil
}

// answer sends the callee's answer in a 200 and waits for the ACK.
func (l *inLeg) answer(sd *sdp.SessionDescription) bool {
	if l.anchor != nil {
		plain, err := l.anchor.toSIP(l.context(), sd, false)
		if err != nil {
			l.log.Warn("anchored answer failed; refusing the call", "err", err)
			rej := l.a.unavailable("rtpengine")
			l.respond(503, append(rej.hdrs, l.a.warning("media relay unavailable"))...)
			l.hangup(reasonAnchor)
			return false
		}
		sd = plain
	}
	body := sdpBytes(sd)
	res := sip.NewSDPResponseFromRequest(l.sess.req, body)
	res.AppendHeader(l.contactHeader())
	l.register()
	l.finalCode = 200
	l.a.m.call("in", 200)
	if testOKSent != nil {
		testOKSent(res)
	}
	sent, err := l.accept(res)
	if !sent {
		l.log.Info("200 not sent", "err", err)
		l.hangup(gateway.ReasonCancel)
		return false
	}
	l.localSDP = body
	l.dlg = l.a.uasDialog(l.sess.req)
	if err != nil {
		l.log.Info("no ACK for our 200; ending the call", "err", err)
		l.sendBye(gateway.Reason{Condition: gateway.CondConnectivityError, Code: 408, Text: "no ACK"})
		l.hangup(l.disconnected())
		return false
	}
	return true
}

// errNoAck: our 2xx was retransmitted for 64*T1 without an ACK.
var errNoAck = errors.New("no ACK for the 2xx within 64*T1")

// errFlowGone: the connection of the dialog closed before the ACK.
var errFlowGone = errors.New("connection closed before the ACK")

// accept sends our 2xx in the INVITE's transaction and waits for its ACK
// (sent false: the transaction had ended, a CANCEL or transport error).
//
// The wait and the 2xx retransmissions are ours, the transaction user's
// (RFC 3261 §13.3.1.4, RFC 6026 §7.1), not sipgo's WriteResponse: that
// one retransmits through the transaction and fails once it is gone, and
// sipgo ends it at Timer L, which is short (timerl.go). So the 2xx goes
// straight to the transaction's connection, at T1, 2*T1 ... T2, until the
// ACK (onAck), a BYE standing for it (byeBeforeAck), the close of the
// dialog's connection (flowGone) or 64*T1 with none of them,
// on every transport (end to end there may be UDP hops behind a reliable
// one, §13.3.1.4). Meanwhile a retransmitted INVITE gets the same 2xx
// (Adapter.inviteAgain).
func (l *inLeg) accept(res *sip.Response) (sent bool, err error) {
	select {
	case <-l.tx.Done():
		return false, l.tx.Err()
	default:
	}
	l.acc.sending(res)
	defer l.acc.acked(res)
	l.awaitingAck.Store(true)
	defer l.awaitingAck.Store(false)
	if err := l.tx.Respond(res); err != nil {
		return false, err
	}
	return true, l.waitAck(res)
}

// waitAck retransmits res until the ACK (nil) or 64*T1 (errNoAck).
func (l *inLeg) waitAck(res *sip.Response) error {
	conn := txConnection(l.tx)
	interval := sip.T1
	again := time.NewTimer(interval)
	defer again.Stop()
	giveUp := time.NewTimer(ackWait())
	defer giveUp.Stop()
	for {
		select {
		case acked := <-l.acked:
			if !acked {
				return errFlowGone
			}
			return nil
		case <-giveUp.C:
			return errNoAck
		case <-again.C:
			if conn != nil {
				if err := conn.WriteMsg(res); err != nil {
					l.log.Debug("2xx retransmission not sent", "err", err)
				}
			}
			interval = min(2*interval, sip.T2)
			again.Reset(interval)
		}
	}
}

// txConnection is the connection a server transaction answers on; it
// stays usable after the transaction ends (the UDP listener, or the
// stream the request came on while it is open).
func txConnection(tx sip.ServerTransaction) sip.Connection {
	if c, ok := tx.(interface{ Connection() sip.Connection }); ok {
		return c.Connection()
	}
	return nil
}

// testOKSent, when set by a test, sees each 200 an inbound leg sends.
var testOKSent func(*sip.Response)

// register puts the dialog in the table so in-dialog requests reach us.
func (l *inLeg) register() {
	remote, _ := l.sess.req.From().Params.Get("tag")
	l.key = dialogKey(l.sess.req.CallID().Value(), l.sess.tag, remote)
	l.a.dialogs.add(l.key, l)
}
