package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
)

// The confirmed phase is the same for both legs: BYE both ways, re-INVITE
// both ways, in-dialog requests answered. It runs on the leg's goroutine.

const (
	byeTimeout      = 10 * time.Second
	reinviteTimeout = 32 * time.Second
)

// reinviteResult is the outcome of our re-INVITE, fed back into the leg.
type reinviteResult struct {
	sd  *sdp.SessionDescription // the call's offer (retried after 491)
	req *sip.Request
	res *sip.Response
	err error
}

// retryReinvite resends an offer after a 491 back-off.
type retryReinvite struct{ sd *sdp.SessionDescription }

// confirmed starts the confirmed phase on the leg's goroutine: the probe
// timer, then the queued work until the queue is empty (serve).
func (l *legCore) confirmed() {
	l.armProbe()
	l.serve()
}

// reack is a retransmitted 2xx to our INVITE or re-INVITE (its transaction
// is gone: onStrayResponse), to be acknowledged again.
type reack struct{ cseq uint32 }

func (l *legCore) handle(x any) {
	switch e := x.(type) {
	case gateway.Hangup:
		l.sendBye(e.Reason)
		l.ended = true
	case gateway.Offer:
		l.startReinvite(e.SDP)
	case gateway.Answer:
		l.answerReinvite(e.SDP)
	case gateway.Failure:
		l.refuseReinvite(e)
	case *inRequest:
		l.onRequest(e)
	case reinviteResult:
		l.finishReinvite(e)
	case retryReinvite:
		l.startReinvite(e.sd)
	case probeDue:
		l.startProbe()
	case probeResult:
		l.finishProbe(e)
	case gateway.DTMF:
		l.queueDTMF(e)
	case dtmfResult:
		l.finishDTMF(e)
	case flowClosed:
		l.log.Info("SIP connection closed; ending call")
		l.hangup(ReasonFlowClosed) // no BYE: there is no way to the peer
	case reack:
		if l.dlg == nil {
			return
		}
		if err := l.dlg.ack(l.remoteTarget, e.cseq); err != nil {
			l.log.Debug("ACK of a retransmitted 2xx not sent", "err", err)
		}
	}
}

func (l *legCore) onRequest(r *inRequest) {
	switch r.req.Method {
	case sip.BYE:
		l.a.reply(r.req, r.tx, 200, "OK")
		l.byeIn = true
		r.finish()
		l.hangup(reasonFromBye(r.req))
	case sip.INVITE:
		l.onReinvite(r)
	case sip.UPDATE:
		l.onUpdate(r)
	case sip.INFO:
		l.onInfo(r)
	default:
		l.a.reply(r.req, r.tx, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
		r.finish()
	}
}

// onUpdate accepts a session refresh (no body, or the peer's last SDP
// again: answered with ours); UPDATE with a new offer is refused, the
// session stays as it is.
func (l *legCore) onUpdate(r *inRequest) {
	defer r.finish()
	if len(r.req.Body()) == 0 {
		l.a.reply(r.req, r.tx, 200, "OK")
		return
	}
	if sd, err := sdpBody(r.req); err == nil && l.isRefresh(sd) {
		res := sip.NewSDPResponseFromRequest(r.req, l.localSDP)
		res.AppendHeader(l.contactHeader())
		if err := r.tx.Respond(res); err != nil {
			l.log.Debug("UPDATE refresh answer not sent", "err", err)
		}
		return
	}
	l.a.reply(r.req, r.tx, 488, "Not Acceptable Here", l.a.warning("UPDATE with SDP not supported"))
}

// onReinvite takes an offer from the SIP peer into the call; the bridge's
// Answer (or Failure) completes it.
func (l *legCore) onReinvite(r *inRequest) {
	if l.reinviteAgain(r) {
		return
	}
	if rej := l.checkReinvite(r.req); rej != nil {
		l.a.reply(r.req, r.tx, rej.code, rej.reason, rej.hdrs...)
		r.finish()
		return
	}
	sd, err := sdpBody(r.req)
	if errors.Is(err, errNoSDP) {
		l.offerlessReinvite(r)
		return
	}
	if err == nil {
		err = l.checkRemote(sd)
	}
	if err != nil {
		l.a.reply(r.req, r.tx, 488, "Not Acceptable Here", l.a.warning("offer not usable"))
		r.finish()
		return
	}
	if c := r.req.Contact(); c != nil {
		l.remoteTarget = *c.Address.Clone()
	}
	if l.isRefresh(sd) {
		l.log.Debug("session refresh re-INVITE answered from cache")
		l.send2xx(r, l.localSDP)
		return
	}
	offer := sd
	if l.anchor != nil {
		if offer, err = l.anchor.toWeb(l.context(), sd, true); err != nil {
			l.log.Warn("anchored re-offer failed", "err", err)
			l.a.reply(r.req, r.tx, 503, "Service Unavailable", l.a.warning("media relay unavailable"))
			r.finish()
			return
		}
	}
	l.noteRemote(sd)
	l.reinvIn = r
	l.post(gateway.Offer{SDP: offer})
}

// reinviteAgain handles a retransmission of the re-INVITE we answered 2xx
// last (true), which sipgo passed on as a new request because the first
// transaction ended (Timer L, timerl.go): while that 2xx waits for its
// ACK it goes again, afterwards the request is absorbed, as RFC 6026 §8.7
// has the "Accepted" transaction do, and it is not a new offer (nor a
// 500 for its CSeq, which is not higher than the last).
func (l *legCore) reinviteAgain(r *inRequest) bool {
	if l.reinvCSeq == 0 || r.req.CSeq().SeqNo != l.reinvCSeq {
		return false
	}
	defer r.finish()
	if res := l.reinvOK.Load(); res != nil {
		if err := r.tx.Respond(res); err != nil {
			l.log.Debug("2xx for a retransmitted re-INVITE not sent", "err", err)
		}
		return true
	}
	r.tx.Terminate()
	return true
}

func (l *legCore) checkReinvite(req *sip.Request) *rejection {
	cseq := req.CSeq().SeqNo
	switch {
	case l.remoteCSeq != 0 && cseq <= l.remoteCSeq:
		return &rejection{code: 500, reason: "CSeq Out Of Order"}
	case l.reinvOut:
		return &rejection{code: 491, reason: "Request Pending"}
	case l.reinvIn != nil:
		return &rejection{code: 500, reason: "Server Internal Error",
			hdrs: []sip.Header{sip.NewHeader("Retry-After", "1")}}
	}
	l.remoteCSeq = cseq
	return nil
}

// offerlessReinvite re-offers the cached session; the answer in the ACK is
// taken as a refresh and not forwarded (protocols.md §5.3).
func (l *legCore) offerlessReinvite(r *inRequest) {
	if l.localSDP == nil {
		l.a.reply(r.req, r.tx, 488, "Not Acceptable Here", l.a.warning("no session to re-offer"))
		r.finish()
		return
	}
	l.send2xx(r, l.localSDP)
}

func (l *legCore) answerReinvite(sd *sdp.SessionDescription) {
	r := l.reinvIn
	if r == nil {
		l.log.Debug("answer without a pending re-INVITE")
		return
	}
	l.reinvIn = nil
	if l.anchor != nil {
		plain, err := l.anchor.toSIP(l.context(), sd, false)
		if err != nil {
			l.log.Warn("anchored re-answer failed", "err", err)
			l.a.reply(r.req, r.tx, 503, "Service Unavailable", l.a.warning("media relay unavailable"))
			r.finish()
			return
		}
		sd = plain
	}
	l.localSDP = sdpBytes(sd)
	l.send2xx(r, l.localSDP)
}

// refuseReinvite relays the bridge's refusal of the peer's re-offer (glare
// becomes 491); the old session stays.
func (l *legCore) refuseReinvite(f gateway.Failure) {
	r := l.reinvIn
	if r == nil {
		return
	}
	l.reinvIn = nil
	code := f.Code
	switch {
	case code == 409:
		code = 491
	case code < 400 || code > 699:
		code = 488
	}
	l.a.reply(r.req, r.tx, code, statusText(code))
	r.finish()
}

// send2xx answers a re-INVITE with the SDP body and retransmits the 2xx
// until its ACK (unreliable transports), on its own goroutine. The
// retransmissions go straight to the transaction's connection: sipgo ends
// the transaction at Timer L, soon after the 2xx (timerl.go).
func (l *legCore) send2xx(r *inRequest, body []byte) {
	res := sip.NewSDPResponseFromRequest(r.req, body)
	res.AppendHeader(l.contactHeader())
	err := r.tx.Respond(res)
	if err == nil {
		l.reinvCSeq = r.req.CSeq().SeqNo
	}
	if err != nil || sip.IsReliable(l.transport) {
		r.finish()
		return
	}
	l.reinvOK.Store(res)
	go l.retransmit2xx(r, res)
}

func (l *legCore) retransmit2xx(r *inRequest, res *sip.Response) {
	defer r.finish()
	defer l.reinvOK.CompareAndSwap(res, nil)
	conn := txConnection(r.tx)
	want, interval := r.req.CSeq().SeqNo, sip.T1
	t := time.NewTimer(interval)
	defer t.Stop()
	deadline := time.After(64 * sip.T1)
	for {
		select {
		case c := <-l.acks:
			if c == want {
				return
			}
		case <-t.C:
			if conn == nil {
				return
			}
			if err := conn.WriteMsg(res); err != nil {
				l.log.Debug("re-INVITE 2xx retransmission not sent", "err", err)
			}
			interval = min(2*interval, sip.T2)
			t.Reset(interval)
		case <-deadline:
			l.log.Info("no ACK for re-INVITE 2xx")
			return
		case <-l.done:
			return
		}
	}
}

func (l *legCore) contactHeader() sip.Header {
	c := l.a.contact(l.transport)
	return &c
}

// startReinvite sends the other leg's offer to the SIP peer.
func (l *legCore) startReinvite(sd *sdp.SessionDescription) {
	if l.reinvOut || l.reinvIn != nil {
		l.post(gateway.Failure{Code: 491, Reason: gateway.CondGeneralError, Text: "re-INVITE pending", Ref: "offer"})
		return
	}
	sent := sd
	if l.anchor != nil {
		var err error
		if sent, err = l.anchor.toSIP(l.context(), sd, true); err != nil {
			l.log.Warn("anchored re-offer failed", "err", err)
			l.post(gateway.Failure{Code: 503, Reason: gateway.CondConnectivityError, Text: "media relay unavailable", Ref: "offer"})
			return
		}
	}
	l.reinvOut = true
	req := sip.NewRequest(sip.INVITE, l.remoteTarget)
	req.SetBody(sdpBytes(sent))
	req.AppendHeader(contentTypeSDP())
	req.AppendHeader(l.contactHeader())
	lctx := l.context()
	go func() {
		ctx, cancel := context.WithTimeout(lctx, reinviteTimeout)
		defer cancel()
		res, err := l.doInDialog(ctx, req)
		_ = l.push(reinviteResult{sd: sd, req: req, res: res, err: err})
	}()
}

func (l *legCore) finishReinvite(e reinviteResult) {
	l.reinvOut = false
	code := 408
	if e.err == nil {
		code = e.res.StatusCode
	}
	switch {
	case code >= 200 && code < 300:
		l.reinviteAnswered(e)
	case code == 491:
		l.retryAfterGlare(e.sd)
	case code == 408 || code == 481:
		l.log.Info("re-INVITE ended the dialog", "code", code)
		l.hangup(gateway.ReasonFromSIP(code))
	default:
		r := gateway.ReasonFromSIP(code)
		l.post(gateway.Failure{Code: code, Reason: r.Condition, Text: statusText(code), Ref: "offer"})
	}
}

func (l *legCore) reinviteAnswered(e reinviteResult) {
	if err := l.dlg.ack(l.remoteTarget, e.req.CSeq().SeqNo); err != nil {
		l.log.Debug("re-INVITE ACK not sent", "err", err)
	}
	sd, err := sdpBody(e.res)
	if err == nil {
		err = l.checkRemote(sd)
	}
	if err != nil {
		r := gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488, Text: "unusable answer"}
		l.sendBye(r)
		l.hangup(r)
		return
	}
	l.localSDP = e.req.Body()
	l.noteRemote(sd)
	if l.anchor != nil {
		web, err := l.anchor.toWeb(l.context(), sd, false)
		if err != nil {
			l.log.Warn("anchored re-answer failed; ending the call", "err", err)
			l.sendBye(reasonAnchor)
			l.hangup(reasonAnchor)
			return
		}
		sd = web
	}
	l.post(gateway.Answer{SDP: sd})
}

// retryAfterGlare resends after 2.1-4 s when we own the Call-ID (we placed
// the INVITE), else 0-2 s (RFC 3261 §14.1).
func (l *legCore) retryAfterGlare(sd *sdp.SessionDescription) {
	d := time.Duration(rand.Int64N(int64(2 * time.Second)))
	if l.dir == "out" {
		d = 2100*time.Millisecond + time.Duration(rand.Int64N(int64(1900*time.Millisecond)))
	}
	time.AfterFunc(d, func() { _ = l.push(retryReinvite{sd: sd}) })
}

// sendBye ends the dialog with a Reason header.
func (l *legCore) sendBye(r gateway.Reason) { l.sendByeWithin(r, byeTimeout) }

// sendByeWithin sends the BYE and waits at most d for its answer.
func (l *legCore) sendByeWithin(r gateway.Reason, d time.Duration) {
	l.sendByeHeaderWithin(reasonHeader(r), d)
}

// sendByeHeader ends the dialog with the Reason header h.
func (l *legCore) sendByeHeader(h sip.Header) { l.sendByeHeaderWithin(h, byeTimeout) }

func (l *legCore) sendByeHeaderWithin(h sip.Header, d time.Duration) {
	if l.dlg == nil {
		return
	}
	bye := sip.NewRequest(sip.BYE, l.remoteTarget)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	l.bye.start(cancel)
	defer l.bye.done()
	res, err := l.doInDialog(ctx, bye, h)
	if err != nil {
		l.log.Debug("BYE failed", "err", err)
		return
	}
	l.log.Debug("BYE answered", "status", res.StatusCode)
}

// doInDialog sends req in the dialog and waits for its final response,
// answering one digest challenge when the route has credentials. The
// headers in tail go last (dialogState.transaction).
func (l *legCore) doInDialog(ctx context.Context, req *sip.Request, tail ...sip.Header) (*sip.Response, error) {
	res, err := l.transact(ctx, req, tail...)
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, err
	}
	user, pw := l.creds()
	if pw == "" || applyDigest(req, res, user, pw) != nil {
		return res, nil
	}
	req.RemoveHeader("Via")
	for req.RemoveHeader("Route") {
	}
	return l.transact(ctx, req)
}

func (l *legCore) transact(ctx context.Context, req *sip.Request, tail ...sip.Header) (*sip.Response, error) {
	l.a.m.transaction("out", string(req.Method))
	l.a.gm.Message("sip", "out", methodLabel(string(req.Method)))
	tx, err := l.dlg.transaction(ctx, req, tail...)
	if err != nil {
		return nil, err
	}
	return waitFinal(ctx, tx)
}

// waitFinal returns the final response of a client transaction.
func waitFinal(ctx context.Context, tx sip.ClientTransaction) (*sip.Response, error) {
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return res, nil
			}
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("sip: transaction ended without a final response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
