package sip

import (
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// allowed is our Allow header value.
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"

// inDialogWait bounds how long a handler keeps a server transaction open for
// a leg (a re-INVITE waits for the other leg's answer, then the ACK).
const inDialogWait = 70 * time.Second

// handleRequests installs the request handlers. Each request's handler
// runs on its own goroutine: sipgo's for REGISTER and on TCP, TLS and
// WebSocket, the UDP reader's (Adapter.serveTx, servertx.go) for the
// others over UDP.
func (a *Adapter) handleRequests() {
	a.handlers = map[sip.RequestMethod]sipgo.RequestHandler{
		sip.INVITE:   a.guard(a.onInvite),
		sip.ACK:      a.guard(a.onAck),
		sip.BYE:      a.guard(a.onInDialog),
		sip.INFO:     a.guard(a.onInDialog),
		sip.UPDATE:   a.guard(a.onInDialog),
		sip.PRACK:    a.guard(a.onInDialog),
		sip.CANCEL:   a.guard(a.onCancel),
		sip.OPTIONS:  a.guard(a.onOptions),
		sip.REGISTER: a.guard(a.onRegister),
	}
	for m, h := range a.handlers {
		a.srv.OnRequest(m, h)
	}
	a.srv.OnNoRoute(a.guard(a.onUnsupported))
}

// dispatch runs the handler sipgo would run for req.
func (a *Adapter) dispatch(req *sip.Request, tx sip.ServerTransaction) {
	if h, ok := a.handlers[req.Method]; ok {
		h(req, tx)
		return
	}
	a.guard(a.onUnsupported)(req, tx)
}

// guard wraps a handler with panic recovery, metrics and validation.
func (a *Adapter) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer a.recoverRequest(req, tx)
		method := methodLabel(string(req.Method))
		a.m.transaction("in", method)
		a.gm.Message("sip", "in", method)
		if code, reason := validateRequest(req); code != 0 {
			a.rejectInvalid(req, tx, code, reason)
			return
		}
		if tags := unsupportedRequire(req); len(tags) > 0 {
			a.reply(req, tx, 420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
			return
		}
		h(req, tx)
	}
}

func (a *Adapter) recoverRequest(req *sip.Request, tx sip.ServerTransaction) {
	r := recover()
	if r == nil {
		return
	}
	a.gm.Panic()
	a.log.Error("sip request handler panicked", "method", string(req.Method), "panic", r)
	defer func() { _ = recover() }()
	if !req.IsAck() {
		a.reply(req, tx, 500, "Server Internal Error")
	}
}

func (a *Adapter) rejectInvalid(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	a.log.Debug("invalid sip request", "method", string(req.Method), "code", code, "reason", reason,
		"source", req.Source())
	if code == dropRequest {
		tx.Terminate() // no automatic 100 Trying either
		return
	}
	if req.IsAck() {
		return
	}
	a.reply(req, tx, code, reason)
}

// reply answers req statelessly within its server transaction.
func (a *Adapter) reply(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if code >= 300 {
		a.gm.Error("sip", code)
	}
	if err := tx.Respond(res); err != nil {
		a.log.Debug("sip response not sent", "code", code, "err", err)
	}
}

func (a *Adapter) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		a.onInDialog(req, tx)
		return
	}
	watchTx(req, tx)
	if a.inviteAgain(req, tx) {
		return // a retransmission (timerl.go)
	}
	a.inbound(req, tx)
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	tag, ok := to.Params.Get("tag")
	return ok && tag != ""
}

// onInDialog hands a request inside a dialog to its leg and keeps the
// transaction open until the leg has answered it.
func (a *Adapter) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	watchTx(req, tx)
	leg := a.dialogs.find(req)
	if leg == nil {
		a.noDialog(req, tx)
		return
	}
	if in, ok := leg.(*inLeg); ok && req.Method == sip.BYE {
		in.byeBeforeAck() // a lost ACK must not hold the BYE for 32 s
	}
	r := newInRequest(req, tx)
	push := leg.push
	if h, ok := leg.(interface{ pushHere(any) error }); ok {
		push = h.pushHere // a parked leg runs here: no goroutine of its own (queue.go)
	}
	if err := push(r); err != nil {
		a.noDialog(req, tx)
		return
	}
	select {
	case <-r.done:
	case <-time.After(inDialogWait):
	}
}

// noDialog answers a request in a dialog we do not have: 481, except a
// BYE in a dialog that the peer's BYE ended lately, which gets 200 (a
// retransmission whose transaction is gone, Timer J in timerl.go): the
// dialog is over, as its sender wants. A BYE that crossed ours gets 481
// (RFC 3261 §15.1.2), as before Timer J was short.
func (a *Adapter) noDialog(req *sip.Request, tx sip.ServerTransaction) {
	if req.Method == sip.BYE && a.dialogs.endedLately(req) {
		a.reply(req, tx, 200, "OK")
		return
	}
	a.reply(req, tx, 481, "Call/Transaction Does Not Exist")
}

func (a *Adapter) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if leg := a.dialogs.find(req); leg != nil {
		leg.onAck(req, tx)
	}
}

// onCancel sees only CANCELs that match no INVITE transaction (the
// transaction layer, ours on UDP (Adapter.takeCancel) or sipgo's, answers
// the others with 200 and 487 itself).
func (a *Adapter) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	a.reply(req, tx, 481, "Call/Transaction Does Not Exist")
}

// onOptions answers OPTIONS in and out of dialog.
func (a *Adapter) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) && a.dialogs.find(req) == nil {
		a.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	a.reply(req, tx, 200, "OK", sip.NewHeader("Allow", allowed),
		sip.NewHeader("Accept", "application/sdp"), sip.NewHeader("Server", a.cfg.UserAgent))
}

func (a *Adapter) onUnsupported(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	a.reply(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
}
