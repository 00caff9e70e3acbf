package sip

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// offerWait bounds the wait for the bridge's first offer after Dial (the
// bridge may hold it for half trickle, at most its GatherMax).
const offerWait = 30 * time.Second

// udpMaxRequest is the size over which a request goes over TCP when the
// route leaves the transport to us (RFC 3261 §18.1.1): WebRTC offers from
// browsers are several kilobytes.
const udpMaxRequest = 1300

// errAuthFailed is a second digest challenge: the credentials are wrong.
var errAuthFailed = errors.New("sip: digest credentials refused")

// Dial implements gateway.Dialer for sip: and tel: targets: the egress
// policy, then an outbound leg that sends the INVITE once the bridge hands
// it the (complete) offer.
func (a *Adapter) Dial(ctx context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	if a.dialogUA() == nil {
		return nil, fmt.Errorf("%w: sip adapter not started", gateway.ErrOffline)
	}
	if a.stopping.Load() {
		return nil, fmt.Errorf("%w: sip adapter shutting down", gateway.ErrDraining)
	}
	if err := checkHeaderValue(req.From); err != nil || req.From == "" {
		return nil, fmt.Errorf("%w: caller address: %w", gateway.ErrBadTarget, err)
	}
	if user, ok := a.localUser(req.Target); ok {
		return a.dialRegistered(ctx, req, user)
	}
	plan, err := a.planEgress(ctx, req.Target)
	if err != nil {
		a.m.deny("out", "policy")
		a.log.Info("egress refused", "from", req.From, "target", req.Target.String(), "err", err)
		return nil, err
	}
	release, err := a.limits.acquire("out:" + req.From)
	if err != nil {
		a.m.deny("out", "limit")
		return nil, err
	}
	l := newOutLeg(a, req, plan, release)
	l.start()
	return l, nil
}

// outLeg is the leg toward a SIP callee (we are the UAC).
type outLeg struct {
	*legCore
	plan       egressPlan
	from       string
	callID     string
	sess       *sipgo.DialogClientSession
	early      *sdp.SessionDescription // SDP of a 183, used if the 200 has none
	rang       bool
	ring       gateway.Ringing // the ringing held for the response queued behind it (progress)
	ringHeld   bool
	challenges int

	late    *lateInvite // the INVITE in the adapter's late-2xx table (late2xx.go)
	lateKey string

	mu           sync.Mutex
	inviteTx     sip.ClientTransaction // the INVITE's (flowRequester), until the ACK
	hungUp       bool
	hang         chan struct{}  // closed by the hang-up (awaitAnswer CANCELs)
	hangReason   gateway.Reason // the hang-up's
	flowLost     bool           // the binding's connection closed (flow.go)
	cancelInvite context.CancelCauseFunc
}

func newOutLeg(a *Adapter, req gateway.DialRequest, plan egressPlan, release func()) *outLeg {
	callID := hex.EncodeToString(randomBytes(16))
	log := legLog(a, "out", slog.String("call", req.Call.ID()), slog.String("callid", callID))
	l := &outLeg{legCore: newLegCore(a, "out", req.Call, release, log), plan: plan, from: req.From,
		callID: callID, hang: make(chan struct{})}
	l.self = l
	l.transport = plan.route.transport
	if plan.flow.valid() {
		l.transport = plan.flow.transport
	}
	if l.transport == "" {
		l.transport = "UDP"
	}
	l.remoteTarget = plan.ruri
	l.credRoute = plan.route
	a.addLeg(l.legCore) // once built: Shutdown may Deliver to it from now on
	return l
}

// finishLeg implements legFinisher: the leg leaves the outbound table and
// the adapter's wait group, last in legCore.finish.
func (l *outLeg) finishLeg() {
	l.a.dialogs.removeOut(l.callID)
	l.a.wg.Done()
}

// start runs the leg: its goroutine until the dialog is confirmed, then on
// demand (legCore.serve). The adapter waits for it on Close.
func (l *outLeg) start() {
	l.a.wg.Add(1)
	go l.run()
}

// Deliver implements gateway.Leg; a Hangup before the answer cancels the
// INVITE at once (awaitAnswer).
func (l *outLeg) Deliver(ev gateway.Event) error {
	if h, ok := ev.(gateway.Hangup); ok {
		l.stopInvite(h.Reason)
	}
	return l.legCore.Deliver(ev)
}

// stopInvite marks the leg hung up; a branch that lost its fork
// (ReasonAnsweredElsewhere) CANCELs with Reason SIP;cause=200 (RFC 3326),
// so the phone shows no missed call.
func (l *outLeg) stopInvite(r gateway.Reason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.hungUp {
		l.hungUp, l.hangReason = true, r
		close(l.hang)
	}
}

// flowGone implements flowLeg: the INVITE is abandoned at once (no CANCEL
// can reach the peer), an answered dialog ends on the leg's goroutine.
func (l *outLeg) flowGone() {
	l.mu.Lock()
	l.flowLost = true
	if l.cancelInvite != nil {
		l.cancelInvite(sipgo.WaitAnswerForceCancelErr)
	}
	l.mu.Unlock()
	l.legCore.flowGone()
}

func (l *outLeg) isFlowLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flowLost
}

func (l *outLeg) isHungUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hungUp
}

// onAck sees ACKs to the 2xx we sent for the peer's re-INVITEs.
func (l *outLeg) onAck(req *sip.Request, _ sip.ServerTransaction) { l.ackSeen(req.CSeq().SeqNo) }

func (l *outLeg) run() {
	growStack()
	if l.setup(l.dial) {
		l.confirmed()
	}
}

// dial waits for the offer and INVITEs; true once answered.
func (l *outLeg) dial() bool {
	sd, ok := l.waitOffer()
	return ok && l.invite(sd)
}

// setInviteTx remembers the INVITE's client transaction (a new one after a
// digest challenge), so that it can end once the 2xx is ACKed.
func (l *outLeg) setInviteTx(tx sip.ClientTransaction) {
	l.mu.Lock()
	l.inviteTx = tx
	l.mu.Unlock()
}

// waitOffer returns the first offer; a Hangup or the timeout end the leg.
func (l *outLeg) waitOffer() (*sdp.SessionDescription, bool) {
	var timeout *time.Timer // made only when the offer is not queued yet (it usually is)
	defer func() {
		if timeout != nil {
			timeout.Stop()
		}
	}()
	for {
		for x, ok := l.q.pop(); ok; x, ok = l.q.pop() {
			switch e := x.(type) {
			case gateway.Offer:
				return e.SDP, true
			case gateway.Hangup:
				return nil, false
			case flowClosed:
				l.hangup(ReasonFlowClosed)
				return nil, false
			}
		}
		if timeout == nil {
			timeout = time.NewTimer(offerWait)
		}
		select {
		case <-l.q.ready:
		case <-timeout.C:
			l.hangup(gateway.ReasonInternal)
			return nil, false
		case <-l.a.ctx.Done(): // the leg's own ends only in finish (context)
			return nil, false
		}
	}
}

// invite sends the INVITE and waits for its outcome; true once answered.
//
// Its context is the adapter's, not the leg's: the leg's ends only in
// finish, on this goroutine after invite returns, so the two end alike,
// and the leg's context keeps no table of children for the whole call.
// The cancel function is let go of on return: it holds the context.
func (l *outLeg) invite(sd *sdp.SessionDescription) bool {
	ctx, cancel := context.WithCancelCause(l.a.ctx)
	defer l.inviteOver(cancel)
	l.mu.Lock()
	if l.hungUp || l.flowLost {
		l.mu.Unlock()
		return false
	}
	l.cancelInvite = cancel
	l.mu.Unlock()
	if l.plan.route != nil && l.plan.route.anchored {
		if sd = l.anchorOffer(ctx, sd); sd == nil {
			return false
		}
	}
	req := l.buildInvite(sd)
	if l.plan.route.transport == "" && inviteTooBig(req) {
		l.transport = "TCP"
		req = l.buildInvite(sd)
	}
	if l.plan.flow.valid() {
		tag, _ := req.From().Params.Get("tag")
		l.bindFlow(l.callID, tag, l.plan.flow)
	}
	l.a.dialogs.addOut(l.callID, l)
	l.a.m.transaction("out", "INVITE")
	l.a.gm.Message("sip", "out", "INVITE")
	l.rememberInvite(req)
	sess, err := l.a.dialogUA().WriteInvite(ctx, req)
	if err != nil && l.udpFallback(err) {
		l.log.Info("TCP connection refused; retrying the INVITE once over UDP",
			"target", l.plan.ruri.String(), "bytes", len(req.String()), "err", err)
		l.transport = "UDP"
		req = l.buildInvite(sd)
		l.rememberInvite(req)
		sess, err = l.a.dialogUA().WriteInvite(ctx, req)
	}
	if err != nil {
		l.log.Info("INVITE not sent", "err", err)
		l.a.m.call("out", 503)
		l.hangup(gateway.Reason{Condition: gateway.CondConnectivityError, Code: 503, Text: "SIP peer unreachable"})
		return false
	}
	l.sess, l.localSDP = sess, req.Body()
	if testInviteSent != nil {
		testInviteSent(req)
	}
	res, err := l.awaitAnswer(ctx, sess)
	return l.inviteDone(res, err)
}

// inviteOver ends the INVITE's context and lets go of it.
func (l *outLeg) inviteOver(cancel context.CancelCauseFunc) {
	cancel(nil)
	l.mu.Lock()
	l.cancelInvite = nil
	l.mu.Unlock()
}

// rememberInvite puts the INVITE in the adapter's late-2xx table before it
// is sent: a 2xx that finds no transaction is ACKed and BYEd from there
// until the leg is answered (late2xx.go).
func (l *outLeg) rememberInvite(req *sip.Request) {
	if l.late != nil {
		l.a.late.drop(l.lateKey)
	}
	from := req.From()
	tag, _ := from.Params.Get("tag")
	l.lateKey = flowKey(l.callID, tag)
	l.late = &lateInvite{from: from, transport: req.Transport(), flow: l.plan.flow}
	l.a.late.put(l.lateKey, l.late, time.Now())
}

// forgetLate takes the INVITE out of the late-2xx table once it is
// answered, and lets go of its record: the record's From is the INVITE's
// own header, which would keep all of the INVITE's headers for as long as
// the call lasts.
func (l *outLeg) forgetLate() {
	l.a.late.drop(l.lateKey)
	l.late, l.lateKey = nil, ""
}

// testInviteSent, when set by a test, sees each INVITE sent.
var testInviteSent func(*sip.Request)

// wireSize is the size of req on the wire, counted without building it.
func wireSize(req *sip.Request) int {
	var n byteCount
	writeRequest(&n, req)
	return int(n)
}

// byteCount is an io.StringWriter that only counts.
type byteCount int

func (c *byteCount) WriteString(s string) (int, error) {
	*c += byteCount(len(s))
	return len(s), nil
}

func (c *byteCount) Write(b []byte) (int, error) {
	*c += byteCount(len(b))
	return len(b), nil
}

// udpFallback reports whether a failed INVITE should be retried over UDP:
// the route leaves the transport to us, we chose TCP for the size (RFC 3261
// §18.1.1), and the peer refused the connection, as UDP-only phones do.
// UDP may carry it: sipgo's UDP size limit is lifted (mtu.go). Never for
// an INVITE on a registered binding's flow (it has its own connection).
func (l *outLeg) udpFallback(err error) bool {
	return l.plan.route.transport == "" && l.transport == "TCP" && !l.plan.flow.valid() &&
		errors.Is(err, syscall.ECONNREFUSED)
}

// buildInvite builds the INVITE with every header it goes out with, in
// the order sipgo's client would give them (Via, CSeq and Max-Forwards
// first, as its request builder prepends them; the rest in order, the
// Content-Length last). sipgo looks its mandatory headers up by name (Via,
// CSeq, Max-Forwards, Content-Length) before adding any that is missing,
// and a lookup of a missing header lowercases the name of every header it
// walks past: an allocation for each name sipgo does not know (the loop
// header, User-Agent, Allow), five such walks an INVITE. Here each is
// added before the headers with those names, so no lookup walks past
// them, and sipgo finds them all present.
//
// The headers of sipgo's own types live in one inviteHeaders, and all go
// into the request with one PrependHeader (one header slice of the exact
// length): appended one by one after sipgo's Via, which PrependHeader puts
// in a slice of its own, the slice grew four times.
func (l *outLeg) buildInvite(sd *sdp.SessionDescription) *sip.Request {
	req := sip.NewRequest(sip.INVITE, l.plan.ruri)
	req.SetTransport(l.transport)
	_ = sipgo.ClientRequestAddVia(l.a.cli, req) // never fails; on an empty request its Via lookup walks nothing
	via := req.Via()
	req.RemoveHeader("Via") // the only header: put back first below
	h := &inviteHeaders{cseq: sip.CSeqHeader{SeqNo: inviteCSeq(), MethodName: sip.INVITE}, maxFwd: 70,
		callID: sip.CallIDHeader(l.callID), contact: l.a.contact(l.transport)}
	h.from = sip.FromHeader{DisplayName: displayName(l.from),
		Address: sip.Uri{Scheme: "sip", User: escapeUser(l.from), Host: l.a.cfg.Host}, Params: h.fromParams[:0]}
	h.from.Params.Add("tag", newTag())
	h.to = sip.ToHeader{Address: sip.Uri{Scheme: l.plan.ruri.Scheme, User: l.plan.ruri.User, Host: l.plan.ruri.Host,
		Port: l.plan.ruri.Port}, Params: h.toParams[:0]}
	if l.plan.aor != nil {
		h.to.Address = *l.plan.aor
	}
	body := sdpBytes(sd)
	h.length = sip.ContentLengthHeader(len(body))
	list := append(make([]sip.Header, 0, 13), via, &h.cseq, &h.maxFwd, &h.from, &h.to, &h.callID, &h.contact)
	if p := l.plan.route.proxy; p != nil {
		list = append(list, sip.NewHeader("Route", routeValue(p)))
	}
	list = append(list, sip.NewHeader(loopHeader, l.a.loopTok), sip.NewHeader("User-Agent", l.a.cfg.UserAgent),
		sip.NewHeader("Allow", allowed), contentTypeSDP(), &h.length)
	req.PrependHeader(list...)
	req.SetBody(body) // finds the Content-Length: no lookup walks the headers above
	l.a.fromListener(req, l.transport)
	return req
}

// inviteHeaders are the headers of sipgo's types that buildInvite puts in
// an INVITE, allocated together, with room for the From and To
// parameters as sip.NewParams makes it.
type inviteHeaders struct {
	cseq       sip.CSeqHeader
	maxFwd     sip.MaxForwardsHeader
	from       sip.FromHeader
	to         sip.ToHeader
	callID     sip.CallIDHeader
	contact    sip.ContactHeader
	length     sip.ContentLengthHeader
	fromParams [4]sip.HeaderKV
	toParams   [4]sip.HeaderKV
}

// inviteCSeq is the CSeq number of a new INVITE: random in 0-32767, as
// sipgo's client picks it for a request without one.
func inviteCSeq() uint32 { return rand.Uint32() & 0x7FFF }

// inviteTooBig reports whether the INVITE is over udpMaxRequest as the
// choice of transport counts it: without the Via, CSeq and Max-Forwards,
// which sipgo's client added after that choice before buildInvite added
// them itself. Under the limit with them, it is under without them: only
// then are their sizes (allocating) taken off.
func inviteTooBig(req *sip.Request) bool {
	n := wireSize(req)
	if n <= udpMaxRequest {
		return false
	}
	for _, h := range [...]sip.Header{req.Via(), req.CSeq(), req.MaxForwards()} {
		var c byteCount
		h.StringWrite(&c) // "Name: value"
		n -= int(c) + len("\r\n")
	}
	return n > udpMaxRequest
}

// routeValue is a loose-routing Route header value for a proxy URI.
func routeValue(p *sip.Uri) string {
	u := p.Clone()
	if u.UriParams == nil {
		u.UriParams = sip.NewParams()
	}
	if !u.UriParams.Has("lr") {
		u.UriParams.Add("lr", "")
	}
	return "<" + u.String() + ">"
}

// displayName escapes s for sipgo's quoted display name: quoteDisplayName
// without the quotes, which sipgo adds (s itself when there is nothing to
// escape, without a copy).
func displayName(s string) string { return displayNameEscaper.Replace(s) }

// progress takes a provisional response: 180 and 183 ring the call once
// (a 183's SDP is kept, never forwarded). It runs on the leg's goroutine
// (awaitAnswer), which holds no lock: the call handles the ringing on it.
// The ringing is held (ringHeld) while another response is queued behind
// it: awaitAnswer posts it before it waits again (flushRinging), and a
// callee that answers at once sends 180 and 200 back to back: then the
// ringing goes to the call with the answer (answered), so that the
// browser gets both in one write.
func (l *outLeg) progress(res *sip.Response) {
	if res.StatusCode != 180 && res.StatusCode != 183 {
		return
	}
	if res.StatusCode == 183 && l.early == nil {
		if sd, err := sdpBody(res); err == nil {
			l.early = sd
		}
	}
	if !l.rang {
		l.rang = true
		l.ring, l.ringHeld = gateway.Ringing{Code: res.StatusCode}, true
	}
}

// flushRinging posts the ringing progress held, if any.
func (l *outLeg) flushRinging() {
	if l.ringHeld {
		l.ringHeld = false
		l.postHere(l.ring) // on run's goroutine (awaitAnswer, inviteDone), no lock held
	}
}

// inviteDone handles awaitAnswer's outcome; true when the call is answered.
func (l *outLeg) inviteDone(res *sip.Response, err error) bool {
	lost, hung := l.isFlowLost(), l.isHungUp()
	if err != nil || lost || hung {
		l.flushRinging() // no answer to go with it
	}
	if lost {
		l.a.m.call("out", 408)
		l.log.Info("SIP connection closed before the answer")
		l.hangup(ReasonFlowClosed)
		return false
	}
	if err == nil && !hung {
		l.forgetLate() // the dialog table answers from now on
		return l.answered(res)
	}
	if err == nil {
		// A 2xx that crossed our CANCEL, or came after the caller left:
		// the call was not answered.
		l.a.m.call("out", 487)
		l.crossed(res)
		l.ended = true
		return false
	}
	l.keepLate()
	code := failureCode(err, hung)
	l.a.m.call("out", code)
	l.log.Info("outbound call failed", "code", code, "err", err)
	if hung {
		l.ended = true
		return false
	}
	l.hangup(gateway.ReasonFromSIP(code))
	return false
}

func failureCode(err error, hung bool) int {
	var dr *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr):
		return dr.Res.StatusCode
	case errors.Is(err, errAuthFailed):
		return 401
	case hung || errors.Is(err, context.Canceled) || errors.Is(err, errCancelUnanswered):
		return 487
	case errors.Is(err, sip.ErrTransactionTimeout):
		return 408
	case errors.Is(err, sip.ErrTransactionTransport):
		return 503
	}
	return 408
}

// answered ACKs the 200 and hands its SDP (or the 183's) to the call.
func (l *outLeg) answered(res *sip.Response) bool {
	l.a.m.call("out", 200)
	l.setRemote(res)
	l.dlg = l.a.uacDialog(l.sess.InviteRequest, res)
	l.register(res)
	if err := l.dlg.ack(l.remoteTarget, l.sess.InviteRequest.CSeq().SeqNo); err != nil {
		l.log.Info("ACK failed", "err", err)
	}
	sd, err := sdpBody(res)
	l.dropInvite(res)
	if errors.Is(err, errNoSDP) && l.early != nil {
		sd, err = l.early, nil
	}
	l.early = nil
	if err == nil {
		err = l.checkRemote(sd)
	}
	if err != nil {
		l.flushRinging()
		r := gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488, Text: "unusable answer"}
		l.log.Info("answer refused", "err", err)
		l.sendBye(r)
		l.hangup(r)
		return false
	}
	l.noteRemote(sd)
	if l.anchor != nil {
		web, err := l.anchor.toWeb(l.context(), sd, false)
		if err != nil {
			l.flushRinging()
			l.log.Warn("anchored answer failed; ending the call", "err", err)
			l.sendBye(reasonAnchor)
			l.hangup(reasonAnchor)
			return false
		}
		sd = web
	}
	// The leg's goroutine holds no lock here and the call's Deliver to
	// this leg only queues: the call handles the answer on it, with the
	// ringing held for it (progress) in one batch.
	if l.ringHeld {
		l.ringHeld = false
		l.postHereAll(l.ring, gateway.Answer{SDP: sd})
		return true
	}
	l.postHere(gateway.Answer{SDP: sd})
	return true
}

// anchorOffer passes the call's offer through rtpengine for a route with
// media: rtpengine; nil (the leg hung up with 503) when rtpengine fails.
func (l *outLeg) anchorOffer(ctx context.Context, sd *sdp.SessionDescription) *sdp.SessionDescription {
	l.anchor = l.a.anchors.newAnchor()
	l.log = lazylog.WithAttrs(l.log, slog.String("rtpengine-call", l.anchor.callID))
	plain, err := l.anchor.toSIP(ctx, sd, true)
	if err != nil {
		l.log.Warn("outbound call needs rtpengine, which failed", "err", err)
		l.a.m.call("out", 503)
		l.hangup(reasonAnchor)
		return nil
	}
	return plain
}

func (l *outLeg) setRemote(res *sip.Response) {
	if c := res.Contact(); c != nil {
		l.remoteTarget = *c.Address.Clone()
	}
}

func (l *outLeg) register(res *sip.Response) {
	remote, _ := res.To().Params.Get("tag")
	l.key = dialogKey(l.callID, l.dlg.localTag(), remote)
	l.a.dialogs.add(l.key, l)
}

// dropInvite lets go of the INVITE once its 2xx is ACKed: the dialog keeps
// what it needs (dialogState). The client transaction ends now rather than
// 32 s later (Timer M, RFC 6026 §7.2): a retransmitted 2xx then matches no
// transaction and is ACKed again from the dialog (onStrayResponse). sipgo's
// Timer M still holds the transaction, its INVITE and the 2xx until it
// fires (timerM, 1 s), so their SDP bodies, which nothing reads any more,
// are dropped.
func (l *outLeg) dropInvite(res *sip.Response) {
	l.mu.Lock()
	tx := l.inviteTx
	l.inviteTx = nil
	l.mu.Unlock()
	if tx != nil {
		tx.Terminate()
	}
	l.sess.InviteRequest.SetBody(nil)
	res.SetBody(nil)
	l.sess = nil
}
