package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/sdp/v3"
)

const (
	caller = 0
	callee = 1
	nobody = -1
)

// bridgeState is the call's state, owned by the run goroutine.
type bridgeState struct {
	answered   bool
	ended      bool
	pending    int            // side with an outstanding offer, or nobody
	sdpOut     [2]bool        // the side's latest SDP reached the other leg
	held       [2][]Event     // candidates / ends waiting for their SDP to go out
	gather     [2]*gatherer   // half trickle in progress for the side's SDP
	gatherDue  [2]time.Time   // when the gather timer is due: an earlier fire is stale
	gatherEnd  [2]time.Time   // the GatherMax deadline
	gatherTmr  [2]*time.Timer // quiet / max timer
	trickled   [2]int
	ringTimer  *time.Timer
	offerTimer *time.Timer // a re-offer waiting for its answer
	offerGen   int
	outcome    string
	answeredAt time.Time
}

// run delivers the call's first offer, holding the inbox's claim (a new
// call's inbox starts claimed), then handles what was queued meanwhile.
// inline says run is on the goroutine that placed the call
// (PlaceRequest.Inline): it returns once the call is idle. Otherwise it is
// the call's first goroutine (serve).
func (c *Call) run(offer *sdp.SessionDescription, inline bool) {
	if !c.handle(func() {
		c.st.pending = nobody
		c.st.ringTimer = time.AfterFunc(c.g.cfg.RingTimeout, func() { c.postTimer(ringTimeout{}) })
		c.onOffer(caller, offer)
	}) {
		return
	}
	if !inline {
		c.serve()
		return
	}
	if !c.inbox.release() {
		go c.serve()
	}
}

// runInline is the claimant's work of an inline poster (PostInline): one
// batch, then the inbox goes idle, or to a goroutine of its own when more
// was queued meanwhile.
func (c *Call) runInline() {
	if c.drainOnce() && !c.inbox.release() {
		go c.serve()
	}
}

// serve is the call's goroutine, started by a poster that found the call
// idle: it handles the queued events in order until the inbox is empty,
// then ends. A call has a goroutine only while it has events to handle,
// so a held call costs no stack. While the call is in setup it waits for
// the next event instead (inbox.wait: the events of a setup come in quick
// succession, and a goroutine started for each of them would grow a new
// stack every time; the calls in setup are bounded, max_calls_in_setup);
// an inline poster still handles its own event meanwhile.
func (c *Call) serve() {
	growStack()
	for {
		for c.drainOnce() {
		}
		if c.finished() || !c.inbox.wait(c.inSetup.Load) {
			return
		}
	}
}

// drainOnce takes one batch of events as the claimant and handles them in
// order. It reports whether the claim is still held: false when the inbox
// was empty (now idle) or the call ended (finished).
func (c *Call) drainOnce() bool {
	batch := c.inbox.take()
	if len(batch) == 0 {
		return false
	}
	return c.handle(func() {
		if len(batch) > 1 {
			defer endBatches(c.beginBatches())
		}
		for _, env := range batch {
			if c.st.ended {
				break
			}
			c.dispatch(env)
		}
	})
}

// beginBatches opens a batch on every leg that is a Batcher, for the
// events of one inbox batch: what they make a browser leg send (a ringing
// and the answer behind it) goes out in one write. The legs are noted, so
// that the same ones end it (endBatches) whatever the events change.
func (c *Call) beginBatches() [2]Batcher {
	var open [2]Batcher
	for i, l := range c.legs {
		if b, ok := l.(Batcher); ok {
			b.BeginBatch()
			open[i] = b
		}
	}
	return open
}

// endBatches ends the batches beginBatches opened.
func endBatches(open [2]Batcher) {
	for _, b := range open {
		if b != nil {
			b.EndBatch()
		}
	}
}

// handle runs f as the claimant. A panic ends the call on both legs. The
// claimant that sees the call end finishes it; handle then reports false.
func (c *Call) handle(f func()) (held bool) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked(r)
			held = false
		}
		if !held {
			c.finish()
		}
	}()
	f()
	return !c.st.ended
}

// finished reports whether the call has ended (Done is closed).
func (c *Call) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// panicked counts and logs a panic of the call's handling and ends the
// call on both legs.
func (c *Call) panicked(r any) {
	c.g.metrics.Panic()
	c.logger().Error("call panicked; ending it", "panic", fmt.Sprint(r))
	if !c.st.ended {
		c.endBoth(ReasonInternal)
	}
}

func (c *Call) stopRingTimer() {
	if c.st.ringTimer != nil {
		c.st.ringTimer.Stop()
		c.st.ringTimer = nil
	}
}

func (c *Call) finish() {
	c.once.Do(func() {
		c.stopRingTimer()
		c.stopOfferTimer()
		for _, t := range c.st.gatherTmr {
			if t != nil {
				t.Stop()
			}
		}
		c.endSetup()
		c.inbox.close()
		c.g.remove(c, c.st.outcome) // before Done: a caller woken by Done sees the call gone
		c.logEnd()                  // before Done too: its record is written
		close(c.done)
	})
}

// logEnd writes the call's one INFO record, at its end: who called whom
// (the call logger's attributes, written here directly so that a call that
// logs nothing else never builds that logger), the leg kinds, the outcome,
// the setup time of an answered call and the duration. Its other records
// are at debug.
//
// It builds the record itself and hands it to the handler, which is what
// Logger.LogAttrs does, less the caller's PC: LogAttrs walks the stack
// (runtime.Callers) for every record, and no handler of ours reads it (none
// sets HandlerOptions.AddSource). The line written is the same.
func (c *Call) logEnd() {
	ctx := context.Background()
	h := c.g.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "call ended", 0)
	// Attrs in an array, not key-value pairs in a []any: no value boxed.
	var buf [10]slog.Attr
	attrs := append(buf[:0], slog.String("call", c.id), slog.String("from", c.from),
		slog.String("to", c.target.canonical()), slog.String("outcome", c.st.outcome),
		slog.String("caller", c.legs[caller].Kind()), slog.String("callee", c.legs[callee].Kind()),
		slog.Duration("duration", time.Since(c.start).Round(time.Millisecond)))
	if c.st.answered {
		attrs = append(attrs, slog.Duration("setup", c.st.answeredAt.Sub(c.start).Round(time.Millisecond)))
	}
	if n := remoteNode(c.legs[callee]); n != "" {
		attrs = append(attrs, slog.String("callee_node", n))
	}
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r) // as LogAttrs: a handler's error has nowhere to go
}

func (c *Call) dispatch(env envelope) {
	if env.leg == nil {
		c.onInternal(env.ev)
		return
	}
	s := c.sideOf(env.leg)
	if s == nobody {
		c.logger().Warn("event from a leg not in this call", "event", env.ev.EventName())
		return
	}
	c.onEvent(s, env.ev)
}

func (c *Call) sideOf(l Leg) int {
	for s, x := range c.legs {
		if x == l {
			return s
		}
	}
	return nobody
}

func (c *Call) onInternal(ev Event) {
	switch e := ev.(type) {
	case ringTimeout:
		if !c.st.answered {
			c.endBoth(ReasonRingTimeout)
		}
	case gatherTimeout:
		c.onGatherTimeout(e)
	case offerTimeout:
		c.onOfferTimeout(e)
	case forceHangup:
		c.endBoth(e.reason)
	}
}

func (c *Call) onEvent(s int, ev Event) {
	switch e := ev.(type) {
	case Offer:
		c.onOffer(s, e.SDP)
	case Answer:
		c.onAnswer(s, e.SDP)
	case Candidate:
		c.onCandidate(s, e, ev)
	case EndOfCandidates:
		c.onEndOfCandidates(s, e)
	case Ringing:
		c.onRinging(s, e)
	case Hangup:
		c.onHangup(s, e.Reason)
	case Failure:
		c.onFailure(s, e)
	case DTMF:
		c.onDTMF(s, e)
	default:
		c.logger().Warn("unexpected event from leg", "event", ev.EventName(), "side", s)
	}
}

// onDTMF relays digits to the other leg once the call is answered; digits
// sent before the answer are dropped (there is no media to play them on).
func (c *Call) onDTMF(s int, e DTMF) {
	if !c.st.answered {
		c.debug("dtmf before answer dropped", "side", s)
		return
	}
	c.send(1-s, e)
}

// onFailure: leg s refused the re-offer it was delivered (a SIP 488 or 491
// to a re-INVITE). The offer is withdrawn, so the next one is not glare, and
// the offerer gets the Failure; the call goes on with the old session. A
// refused first offer is a Hangup, not a Failure.
func (c *Call) onFailure(s int, f Failure) {
	if !c.st.answered || c.st.pending != 1-s {
		c.debug("failure ignored: no re-offer pending", "side", s, "code", f.Code)
		return
	}
	c.st.pending = nobody
	c.stopOfferTimer()
	c.send(1-s, f)
}

func (c *Call) onOffer(s int, sd *sdp.SessionDescription) {
	if c.st.pending != nobody {
		c.refuse(s, "offer", ErrGlare)
		return
	}
	if s == callee && !c.st.answered {
		c.refuse(s, "offer", ErrGlare)
		return
	}
	if len(sd.MediaDescriptions) == 0 {
		c.refuse(s, "offer", fmt.Errorf("%w: offer without m-lines", ErrBadSDP))
		return
	}
	c.st.pending = s
	if c.st.answered {
		c.armOfferTimer()
	}
	c.forwardSDP(s, sd, true)
}

func (c *Call) armOfferTimer() {
	c.stopOfferTimer()
	gen := c.st.offerGen
	c.st.offerTimer = time.AfterFunc(c.g.cfg.OfferTimeout, func() { c.postTimer(offerTimeout{gen: gen}) })
}

// stopOfferTimer stops the re-offer timer and invalidates one already fired.
func (c *Call) stopOfferTimer() {
	c.st.offerGen++
	if c.st.offerTimer != nil {
		c.st.offerTimer.Stop()
	}
}

// onOfferTimeout withdraws a re-offer the other leg never answered.
func (c *Call) onOfferTimeout(e offerTimeout) {
	if e.gen != c.st.offerGen || c.st.pending == nobody {
		return
	}
	s := c.st.pending
	c.st.pending = nobody
	c.logger().Warn("re-offer not answered; withdrawn", "side", s)
	c.send(s, Failure{Code: 408, Reason: CondTimeout, Text: "re-offer not answered", Ref: "offer"})
}

func (c *Call) onAnswer(s int, sd *sdp.SessionDescription) {
	if c.st.pending != 1-s {
		c.refuse(s, "answer", ErrNoOffer)
		return
	}
	c.st.pending = nobody
	c.stopOfferTimer()
	if !c.st.answered {
		c.st.answered = true
		c.st.answeredAt = time.Now()
		c.stopRingTimer() // a held call keeps no timer
		c.endSetup()
		c.g.metrics.callAnswered(c.legs[caller].Kind(), c.legs[callee].Kind(), c.st.answeredAt.Sub(c.start))
		if c.debugging() {
			c.debug("call answered", "after", c.st.answeredAt.Sub(c.start).Round(time.Millisecond))
		}
	}
	c.forwardSDP(s, sd, false)
}

// onRinging relays the callee's ringing to the caller. It ends the call's
// setup for admission control: what remains is a person deciding to
// answer, not work of the gateway or its peers, and counting it would shed
// calls because callees ring long (1,000 calls ringing for 10 s are 100
// calls a second).
func (c *Call) onRinging(s int, e Ringing) {
	if s == callee && !c.st.answered {
		c.endSetup()
		c.send(caller, e)
	}
}

func (c *Call) onHangup(s int, r Reason) {
	if r.IsZero() {
		r = c.plainHangupReason(s)
	}
	r = r.WithDefaultCode()
	c.st.outcome = c.outcomeFor(r)
	c.send(1-s, Hangup{Reason: r})
	c.st.ended = true
}

func (c *Call) plainHangupReason(s int) Reason {
	switch {
	case c.st.answered:
		return ReasonSuccess
	case s == caller:
		return ReasonCancel
	}
	return Reason{Condition: CondDecline, Code: 603}
}

func (c *Call) outcomeFor(r Reason) string {
	if c.st.answered {
		return "answered"
	}
	if r.Condition == "" {
		return CondGeneralError
	}
	return r.Condition
}

// endBoth ends the call on both legs with r.
func (c *Call) endBoth(r Reason) {
	c.st.outcome = c.outcomeFor(r)
	c.st.ended = true
	hangup := Event(Hangup{Reason: r}) // made an interface once for both legs
	for s := range c.legs {
		if err := c.deliver(s, hangup); err != nil {
			c.debug("hangup not delivered", "side", s, "err", err)
		}
	}
}

// send delivers ev to leg s. A leg that fails to take it is gone: the other
// leg is hung up and the call ends.
func (c *Call) send(s int, ev Event) {
	err := c.deliver(s, ev)
	if err == nil || c.st.ended {
		return
	}
	c.logger().Warn("leg failed; ending call", "side", s, "event", ev.EventName(), "err", err)
	c.st.outcome = c.outcomeFor(ReasonDisconnected)
	c.st.ended = true
	_ = c.deliver(1-s, Hangup{Reason: ReasonDisconnected})
}

// deliver calls the leg's Deliver; a panic in the leg counts as a failure.
func (c *Call) deliver(s int, ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.g.metrics.Panic()
			err = fmt.Errorf("leg panicked: %v", r)
		}
	}()
	return c.legs[s].Deliver(ev)
}

// refuse tells leg s that its message was not accepted; the call goes on.
func (c *Call) refuse(s int, ref string, err error) {
	code, cond := Status(err)
	c.debug("message refused", "side", s, "ref", ref, "err", err)
	c.send(s, Failure{Code: code, Reason: cond, Text: err.Error(), Ref: ref})
}
