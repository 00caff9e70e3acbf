package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// The outbound INVITE's wait for its final response, and its CANCEL.
//
// sipgo's DialogClientSession.WaitAnswer sends the CANCEL when its context
// ends, but it stops reading the INVITE's responses while the CANCEL is
// out, and when the CANCEL gets anything but 200 (a 481: the callee had
// answered already) it terminates the INVITE transaction: the callee's 2xx,
// held in the transaction or arriving a moment later, was never ACKed nor
// BYEd. So the leg waits itself (awaitAnswer): a hang-up sends the CANCEL
// (once a provisional response has come, RFC 3261 §9.1) on its own
// goroutine, and the leg goes on reading the INVITE's responses whatever
// the CANCEL's answer, until the final response or 64*T1 after the
// CANCEL. A 2xx then is ACKed and BYEd (outLeg.crossed); one that comes
// even later is the stray-response handler's (late2xx.go).

// testAwaitAnswer, when set by a test, runs as a leg starts to wait for
// its INVITE's responses.
var testAwaitAnswer func(sip.ClientTransaction)

// errCancelUnanswered: no final response 64*T1 after our CANCEL.
var errCancelUnanswered = errors.New("sip: no final response to the cancelled INVITE")

// reasonElsewhere is the Reason of our CANCEL (and BYE) for a fork branch
// that lost (RFC 3326): the phone shows no missed call.
func reasonElsewhere() sip.Header {
	return sip.NewHeader("Reason", `SIP;cause=200;text="Call completed elsewhere"`)
}

// awaitAnswer returns the INVITE's final response (a non-2xx one with a
// *sipgo.ErrDialogResponse), answering one digest challenge; after a
// hang-up it CANCELs and keeps reading. ctx ends it at once, without a
// CANCEL (the flow closed, or the adapter stops).
func (l *outLeg) awaitAnswer(ctx context.Context, sess *sipgo.DialogClientSession) (*sip.Response, error) {
	l.mu.Lock()
	tx, hang := l.inviteTx, l.hang
	l.mu.Unlock()
	if tx == nil {
		return nil, errors.New("sip: INVITE without a client transaction")
	}
	if testAwaitAnswer != nil {
		testAwaitAnswer(tx)
	}
	// hang is nil once the leg is hung up.
	var (
		provisional, cancelled bool
		deadline               <-chan time.Time
	)
	for {
		if len(tx.Responses()) == 0 {
			l.flushRinging() // nothing behind it to go with: the call rings now
		}
		select {
		case r := <-tx.Responses():
			if r.IsProvisional() {
				provisional = true
				if hang != nil {
					l.progress(r)
				} else if !cancelled {
					l.sendCancel(sess.InviteRequest)
					cancelled = true
				}
				continue
			}
			if r.IsSuccess() {
				return r, nil
			}
			if hang == nil {
				return r, &sipgo.ErrDialogResponse{Res: r}
			}
			next, retried, err := l.retryDigest(ctx, sess, tx, r)
			if !retried {
				return r, &sipgo.ErrDialogResponse{Res: r}
			}
			if err != nil {
				return nil, err
			}
			tx = next
		case <-hang:
			hang = nil
			t := time.NewTimer(l.a.cancelWait)
			defer t.Stop()
			deadline = t.C
			if provisional || tryingSeen(tx) {
				l.sendCancel(sess.InviteRequest)
				cancelled = true
			}
		case <-deadline:
			l.giveUp(tx)
			return nil, errCancelUnanswered
		case <-tx.Done():
			l.keepLate()
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, sip.ErrTransactionTerminated
		case <-ctx.Done():
			l.giveUp(tx)
			return nil, ctx.Err()
		}
	}
}

// tryingSeen reports whether tx had a 100 Trying that it kept from its
// user (clientTx.provisionalSeen); false for sipgo's transactions, which
// hand every response on.
func tryingSeen(tx sip.ClientTransaction) bool {
	t, ok := tx.(interface{ provisionalSeen() bool })
	return ok && t.provisionalSeen()
}

// retryDigest answers a first 401/407 with the route's credentials (a new
// INVITE transaction, CSeq + 1); a second one that is not stale fails the
// call (errAuthFailed). retried is false for any other final response.
func (l *outLeg) retryDigest(ctx context.Context, sess *sipgo.DialogClientSession, tx sip.ClientTransaction,
	r *sip.Response) (next sip.ClientTransaction, retried bool, err error) {
	chal := "WWW-Authenticate"
	switch r.StatusCode {
	case 401:
	case 407:
		chal = "Proxy-Authenticate"
	default:
		return nil, false, nil
	}
	l.challenges++
	if l.challenges > 1 && !isStale(r) {
		return nil, true, fmt.Errorf("%w (%d)", errAuthFailed, r.StatusCode)
	}
	user, pw := l.creds()
	if pw == "" || r.GetHeader(chal) == nil || l.challenges > 2 {
		return nil, false, nil
	}
	tx.Terminate()
	inv := sess.InviteRequest
	if err := applyDigest(inv, r, user, pw); err != nil {
		return nil, true, err
	}
	inv.RemoveHeader("Via")
	sess.InviteResponse = r // sipgo's request builder reads it, as WaitAnswer sets it
	next, err = sess.TransactionRequest(ctx, inv)
	return next, true, err
}

// sendCancel CANCELs the INVITE (RFC 3261 §9.1) on its own goroutine; the
// answer (200, or 481 when the callee had answered) is only logged: the
// INVITE's own final response decides.
func (l *outLeg) sendCancel(inv *sip.Request) {
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	sip.CopyHeaders("Route", inv, req)
	if l.elsewhere() {
		req.AppendHeader(reasonElsewhere())
	}
	req.SetBody(nil)
	req.SetTransport(inv.Transport())
	req.SetSource(inv.Source())
	req.Laddr = inv.Laddr
	if d := inv.Destination(); d != "" {
		req.SetDestination(d)
	}
	l.a.m.transaction("out", "CANCEL")
	l.a.gm.Message("sip", "out", "CANCEL")
	go l.cancelTransaction(l.context(), req)
}

func (l *outLeg) cancelTransaction(lctx context.Context, req *sip.Request) {
	ctx, cancel := context.WithTimeout(lctx, lateSpan)
	defer cancel()
	tx, err := l.a.cli.TransactionRequest(ctx, req, addVia)
	if err != nil {
		l.log.Info("CANCEL not sent", "err", err)
		return
	}
	res, err := waitFinal(ctx, tx)
	switch {
	case err != nil:
		l.log.Debug("CANCEL not answered", "err", err)
	case res.StatusCode == 200:
		l.log.Debug("CANCEL answered", "status", res.StatusCode)
	default:
		// 481: the callee had sent its final response, likely a 2xx
		// crossing the CANCEL; the INVITE's transaction will see it.
		l.log.Info("CANCEL refused; waiting for the INVITE's final response", "status", res.StatusCode)
	}
}

// elsewhere reports whether the leg hangs up because another fork branch
// answered.
func (l *outLeg) elsewhere() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hangReason == ReasonAnsweredElsewhere
}

// byeReason is the Reason of a BYE to a 2xx that came after the hang-up.
func (l *outLeg) byeReason() sip.Header {
	l.mu.Lock()
	r := l.hangReason
	l.mu.Unlock()
	if r == ReasonAnsweredElsewhere {
		return reasonElsewhere()
	}
	if r == (gateway.Reason{}) {
		r = gateway.ReasonCancel
	}
	return reasonHeader(r)
}

// keepLate keeps the INVITE in the adapter's late-2xx table for lateSpan
// more, with the Reason its BYE would carry (late2xx.go).
func (l *outLeg) keepLate() {
	if l.late == nil {
		return
	}
	l.a.late.keep(l.lateKey, l.late, l.byeReason(), time.Now())
}

// giveUp ends the INVITE's transaction; a 2xx after it is the stray
// handler's.
func (l *outLeg) giveUp(tx sip.ClientTransaction) {
	l.keepLate()
	tx.Terminate()
}

// crossed ACKs and BYEs a 2xx that came after the hang-up (it crossed our
// CANCEL, or the CANCEL could not be sent yet); its retransmissions are
// ACKed again from the late-2xx table. Nothing reaches the call.
func (l *outLeg) crossed(res *sip.Response) {
	remote, _ := res.To().Params.Get("tag")
	bye := true
	if l.late != nil {
		l.keepLate()
		bye = l.a.late.markDone(l.late, remote)
	}
	l.setRemote(res)
	l.dlg = l.a.uacDialog(l.sess.InviteRequest, res)
	if err := l.dlg.ack(l.remoteTarget, l.sess.InviteRequest.CSeq().SeqNo); err != nil {
		l.log.Info("ACK of a 2xx after the hang-up not sent", "err", err)
	}
	l.dropInvite(res)
	if !bye {
		return
	}
	l.a.m.lateAnswer()
	l.log.Info("2xx after the hang-up (it crossed our CANCEL): ACKed, sending BYE", "remote_tag", remote)
	l.sendByeHeader(l.byeReason())
}
