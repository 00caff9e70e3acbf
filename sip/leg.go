package sip

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// inRequest is an in-dialog request handed to a leg's goroutine. The sipgo
// handler that received it waits for done, so the server transaction lives
// until the leg has answered.
type inRequest struct {
	req  *sip.Request
	tx   sip.ServerTransaction
	done chan struct{}
	once sync.Once
}

func newInRequest(req *sip.Request, tx sip.ServerTransaction) *inRequest {
	return &inRequest{req: req, tx: tx, done: make(chan struct{})}
}

func (r *inRequest) finish() { r.once.Do(func() { close(r.done) }) }

// legCore is the state shared by inbound (UAS) and outbound (UAC) legs. All
// fields except q, done and acks are owned by the leg's goroutine: while
// the call is set up, one goroutine that waits for its next event; once the
// dialog is confirmed, a goroutine that runs only while events are queued
// (serve, queue.park).
type legCore struct {
	a       *Adapter
	self    gateway.Leg // the outer leg, as the call knows it
	dir     string      // "in" or "out"
	log     *slog.Logger
	call    *gateway.Call
	q       queue // part of the leg, not allocated apart (queue.init)
	done    chan struct{}
	acks    chan uint32 // CSeq numbers of ACKs to our re-INVITE 2xx
	release func()
	ctx     context.Context // the leg's own, made on first use (context); nil until then
	cancel  context.CancelFunc

	dlg          *dialogState // once answered
	key          string       // dialog table key, once registered
	remoteTarget sip.Uri
	transport    string
	remoteCSeq   uint32
	localSDP     []byte    // the last SDP we sent to the SIP peer, as sent
	remoteSDP    sdpDigest // the last SDP the peer sent us (refresh.go)
	ended        bool
	byeIn        bool                         // the peer ended the dialog with a BYE we answered 200
	reinvIn      *inRequest                   // incoming re-INVITE awaiting the bridge's answer
	reinvCSeq    uint32                       // CSeq of the last re-INVITE we answered 2xx
	reinvOK      atomic.Pointer[sip.Response] // that 2xx, while it waits for its ACK
	reinvOut     bool                         // our re-INVITE is in flight
	probing      bool                         // our OPTIONS probe is in flight
	probeTimer   *time.Timer
	dtmf         dtmfOut // digits going out as INFO (dtmf.go)
	credRoute    *route  // whose credentials answer a digest challenge (creds), else nil
	flow         flow    // the connection of the dialog (flow.go)
	flowKey      string  // flow table key, once bound
	anchor       *anchor // media through rtpengine (anchor.go), else nil
	bye          byeWait // a closed connection ends the wait for our BYE's answer (byewait.go)
}

// legFinisher is an outer leg with clean-up of its own, which finish runs
// last (a method rather than a closure made for every leg).
type legFinisher interface{ finishLeg() }

// newLegCore makes the core of a leg in direction dir ("in" or "out"),
// logging to log (legLog).
func newLegCore(a *Adapter, dir string, call *gateway.Call, release func(), log *slog.Logger) *legCore {
	l := &legCore{a: a, dir: dir, call: call, done: make(chan struct{}),
		acks: make(chan uint32, 4), release: release, log: log}
	l.q.init()
	return l
}

// context is the leg's context: it ends with the adapter or when the leg
// finishes, so the goroutines a leg starts for a request (a probe, a
// re-INVITE, an INFO, a CANCEL) and its calls to rtpengine end with it.
// It is made on first use, by the leg's goroutine, which owns it: most
// calls never need one, and a context of their own (with the adapter's
// table of children and its Done channel) was about a twentieth of a held
// call's heap. What the leg waits for on its own goroutine needs none: the
// leg's context ends only in finish, on that goroutine, so while it waits
// the adapter's ends alike (next, outLeg.waitOffer).
func (l *legCore) context() context.Context {
	if l.ctx == nil {
		l.ctx, l.cancel = context.WithCancel(l.a.ctx)
	}
	return l.ctx
}

// legLog is the adapter's logger with a leg's attributes: "leg" (sip-in
// or sip-out) first, then attrs, in one lazylog.WithAttrs (one
// allocation for up to four attributes with the adapter's own).
func legLog(a *Adapter, dir string, attrs ...slog.Attr) *slog.Logger {
	name := "sip-in"
	if dir == "out" {
		name = "sip-out"
	}
	var buf [4]slog.Attr
	return lazylog.WithAttrs(a.log, append(append(buf[:0], slog.String("leg", name)), attrs...)...)
}

// creds are the user name and password of the leg's route, for a digest
// challenge; empty for an inbound leg.
func (l *legCore) creds() (string, string) {
	if l.credRoute == nil {
		return "", ""
	}
	return l.credRoute.username, l.credRoute.password
}

// Kind implements gateway.Leg.
func (l *legCore) Kind() string { return "sip" }

// Caps implements gateway.Leg: SIP peers get complete SDPs without mDNS.
func (l *legCore) Caps() gateway.Caps { return gateway.Caps{} }

// Deliver implements gateway.Leg: it queues ev for the leg's goroutine.
func (l *legCore) Deliver(ev gateway.Event) error {
	err := l.q.push(ev)
	if errors.Is(err, errQueueClosed) {
		if _, ok := ev.(gateway.Hangup); ok {
			return nil
		}
		return gateway.ErrCallEnded
	}
	return err
}

// push queues an in-dialog request or an internal event.
func (l *legCore) push(x any) error { return l.q.push(x) }

// pushHere queues x and, when the leg's goroutine is parked (a confirmed
// dialog), runs the leg on the calling goroutine until its queue is empty
// again, rather than starting one: for a request handler that waits for
// the leg's answer anyway (Adapter.onInDialog).
func (l *legCore) pushHere(x any) error {
	wake, err := l.q.pushHere(x)
	if wake != nil {
		wake.serveWoken()
	}
	return err
}

func (l *legCore) doneCh() <-chan struct{} { return l.done }

// post hands ev to the call; a call that already ended is not an error.
func (l *legCore) post(ev gateway.Event) {
	if l.call == nil {
		return
	}
	if err := l.call.Post(l.self, ev); err != nil && !errors.Is(err, gateway.ErrCallEnded) {
		l.log.Debug("post failed", "event", ev.EventName(), "err", err)
	}
}

// postHere is post for the leg's own goroutine while it holds no lock (the
// outbound leg's run, with the answer): when the call is idle, this
// goroutine handles ev in the call (gateway.Call.PostInline) instead of
// starting a goroutine of the call's for it.
func (l *legCore) postHere(ev gateway.Event) {
	if l.call == nil {
		return
	}
	if err := l.call.PostInline(l.self, ev); err != nil && !errors.Is(err, gateway.ErrCallEnded) {
		l.log.Debug("post failed", "event", ev.EventName(), "err", err)
	}
}

// postHereAll is postHere for events the leg has at once: the call
// handles them in one batch (gateway.Call.PostInlineAll).
func (l *legCore) postHereAll(evs ...gateway.Event) {
	if l.call == nil {
		return
	}
	if err := l.call.PostInlineAll(l.self, evs...); err != nil && !errors.Is(err, gateway.ErrCallEnded) {
		l.log.Debug("post failed", "events", len(evs), "err", err)
	}
}

// hangup tells the call this leg is over and stops the leg.
func (l *legCore) hangup(r gateway.Reason) {
	l.post(gateway.Hangup{Reason: r})
	l.ended = true
}

// ackSeen is called from the ACK handler for ACKs to our re-INVITE 2xx.
func (l *legCore) ackSeen(cseq uint32) {
	select {
	case l.acks <- cseq:
	default:
	}
}

// finish releases everything the leg holds. Requests still queued get 481.
func (l *legCore) finish() {
	l.ended = true
	if l.key != "" {
		l.a.dialogs.remove(l.key, l.byeIn)
	}
	if l.flowKey != "" {
		l.a.flows.remove(l.flowKey)
	}
	for _, x := range l.q.close() {
		if r, ok := x.(*inRequest); ok {
			l.a.reply(r.req, r.tx, 481, "Call/Transaction Does Not Exist")
			r.finish()
		}
	}
	if l.reinvIn != nil {
		l.a.reply(l.reinvIn.req, l.reinvIn.tx, 487, "Request Terminated")
		l.reinvIn.finish()
	}
	if l.cancel != nil {
		l.cancel()
	}
	if l.anchor != nil {
		l.anchor.close(l.log)
		l.anchor = nil
	}
	l.stopProbe()
	l.release()
	close(l.done)
	l.a.removeLeg(l)
	if f, ok := l.self.(legFinisher); ok {
		f.finishLeg()
	}
}

// setup runs the leg's set-up phase (waiting for the offer and INVITing,
// or alerting) on the leg's goroutine; true when the dialog is confirmed.
// A leg whose set-up failed, ended or panicked is finished here.
func (l *legCore) setup(phase func() bool) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			l.panicked(r)
			ok = false
		}
		if !ok {
			l.finish()
		}
	}()
	return phase() && !l.ended
}

// serve does the confirmed dialog's queued work; when nothing is queued it
// parks the queue and returns, and the next push (an event from the call,
// an in-dialog request, the probe timer) runs serve on a new goroutine. A
// held call thus has no goroutine. The leg is finished here once it ends.
func (l *legCore) serve() {
	defer func() {
		if r := recover(); r != nil {
			l.panicked(r)
			l.finish()
		}
	}()
	for !l.ended {
		x, ok := l.q.pop()
		if !ok {
			if l.q.park(l) {
				return
			}
			continue
		}
		l.handle(x)
	}
	l.finish()
}

// bindFlow sends the dialog's requests over f (flow.go).
func (l *legCore) bindFlow(callID, localTag string, f flow) {
	if !f.valid() {
		return
	}
	l.flow, l.flowKey = f, flowKey(callID, localTag)
	l.a.flows.add(l.flowKey, f, l.self.(flowLeg))
}

// flowClosed is the dialog's connection closing, on the leg's queue.
type flowClosed struct{}

// flowGone implements flowLeg.
func (l *legCore) flowGone() {
	l.bye.flowGone()
	_ = l.push(flowClosed{})
}

// panicked reports a panic in the leg's goroutine and ends the call; the
// caller finishes the leg.
func (l *legCore) panicked(r any) {
	l.a.gm.Panic()
	l.log.Error("sip leg panicked; ending it", "panic", r)
	l.post(gateway.Hangup{Reason: gateway.ReasonInternal})
	l.ended = true
}

// next waits for the leg's next queued item, or for the dialog or the
// adapter to end (nil, false).
func (l *legCore) next(dialogDone <-chan struct{}) (any, bool) {
	for {
		if x, ok := l.q.pop(); ok {
			return x, true
		}
		select {
		case <-l.q.ready:
		case <-dialogDone:
			return nil, false
		case <-l.a.ctx.Done(): // the leg's own ends only in finish (context)
			return nil, false
		}
	}
}
