package gateway

import (
	"errors"
	"time"

	"github.com/pion/sdp/v3"
)

// forwardSDP sends an offer or answer from side s to the other leg, adapting
// candidates to what that leg can do (half trickle, mDNS filtering). The
// other leg gets a copy of sd (the bridge never changes an SDP a leg
// still holds), unless no copy is needed (ownSDP).
func (c *Call) forwardSDP(s int, sd *sdp.SessionDescription, isOffer bool) {
	o := 1 - s
	to, from := c.legs[o].Caps(), c.legs[s].Caps()
	if !c.ownSDP(o, from, to, sd) {
		sd = CloneSDP(sd)
	}
	c.st.sdpOut[s] = false
	if !to.MDNS {
		if n := FilterMDNS(sd); n > 0 {
			c.g.metrics.candidateDropped("mdns")
		}
	}
	if !to.Trickle && from.Trickle && !HasEndOfCandidates(sd) {
		c.startGather(s, sd, isOffer, !to.MDNS)
		return
	}
	c.deliverSDP(s, sd, isOffer)
}

// ownSDP reports whether sd, posted by the leg with caps from, may go to
// leg o (caps to) without a copy: the poster gave it up (Caps.GivesSDP)
// and o is not a fork (whose branches were dialed with the first offer and
// may read it on their own goroutines), so the bridge and o may change it;
// or o only reads SDPs (Caps.ReadsSDP) and the bridge has nothing to
// change: o trickles (no gathering, no ice-options edit) and resolves mDNS
// or sd has no mDNS candidate.
func (c *Call) ownSDP(o int, from, to Caps, sd *sdp.SessionDescription) bool {
	if _, fork := c.legs[o].(*forkLeg); from.GivesSDP && !fork {
		return true
	}
	return to.ReadsSDP && to.Trickle && (to.MDNS || !hasMDNS(sd))
}

func (c *Call) deliverSDP(s int, sd *sdp.SessionDescription, isOffer bool) {
	o := 1 - s
	defer endBatch(c.beginBatch(o)) // the SDP, held candidates and end-of-candidates: one write
	if !c.legs[o].Caps().Trickle {
		StripTrickleOption(sd)
	}
	if isOffer {
		c.send(o, Offer{SDP: sd})
	} else {
		c.send(o, Answer{SDP: sd})
	}
	c.st.sdpOut[s] = true
	held := c.st.held[s]
	c.st.held[s] = nil
	for _, ev := range held {
		c.onEvent(s, ev)
	}
	if !c.legs[s].Caps().Trickle && c.legs[o].Caps().Trickle {
		c.send(o, EndOfCandidates{})
	}
}

func (c *Call) startGather(s int, sd *sdp.SessionDescription, isOffer, dropMDNS bool) {
	makeAttrRoom(sd)
	c.st.gather[s] = newGatherer(sd, isOffer, dropMDNS)
	c.st.gatherEnd[s] = time.Now().Add(c.g.cfg.GatherMax)
	c.armGather(s, c.g.cfg.GatherMax)
	held := c.st.held[s]
	c.st.held[s] = nil
	for _, ev := range held {
		c.onEvent(s, ev)
	}
}

// armGather (re)starts side s's gather timer to fire after d, but never
// after the GatherMax deadline. The side keeps one timer for its gather,
// reset at every candidate (not a new one each time): a fire that was
// already on its way when it was reset comes before the new due time and
// is ignored (onGatherTimeout).
func (c *Call) armGather(s int, d time.Duration) {
	now := time.Now()
	if left := c.st.gatherEnd[s].Sub(now); d > left {
		d = left
	}
	c.st.gatherDue[s] = now.Add(d)
	if t := c.st.gatherTmr[s]; t != nil {
		t.Reset(d)
		return
	}
	c.st.gatherTmr[s] = time.AfterFunc(d, func() { c.postTimer(gatherTimeout{side: s}) })
}

func (c *Call) onGatherTimeout(e gatherTimeout) {
	if c.st.gather[e.side] != nil && !time.Now().Before(c.st.gatherDue[e.side]) {
		c.flushGather(e.side)
	}
}

// flushGather sends side s's gathered SDP. Its timer is stopped and
// dropped: finish would stop it a second time at the call's end, and only
// a re-offer toward a non-trickling leg gathers again (with a new timer).
func (c *Call) flushGather(s int) {
	g := c.st.gather[s]
	c.st.gather[s] = nil
	if c.st.gatherTmr[s] != nil {
		c.st.gatherTmr[s].Stop()
		c.st.gatherTmr[s] = nil
	}
	c.deliverSDP(s, g.finish(), g.isOffer)
}

// onCandidate handles cand, which ev holds: held or forwarded unchanged,
// ev goes on as it is instead of cand in a new interface value (an
// allocation per candidate).
func (c *Call) onCandidate(s int, cand Candidate, ev Event) {
	if c.st.trickled[s] >= c.g.cfg.MaxTrickled {
		c.refuse(s, "candidate", ErrTooManyCands)
		return
	}
	c.st.trickled[s]++
	switch {
	case c.st.gather[s] != nil:
		c.gatherCandidate(s, cand)
	case !c.st.sdpOut[s]:
		c.st.held[s] = append(c.st.held[s], ev)
	default:
		c.forwardCandidate(s, cand, ev)
	}
}

func (c *Call) gatherCandidate(s int, cand Candidate) {
	err := c.st.gather[s].add(cand)
	// errors.AsType, not errors.As: As's target escapes, an allocation per
	// gathered candidate, dropped or not.
	dropped, isDropped := errors.AsType[errDropped](err)
	switch {
	case isDropped:
		c.g.metrics.candidateDropped(dropped.why)
	case err != nil:
		c.refuse(s, "candidate", err)
	default:
		c.armGather(s, c.g.cfg.GatherQuiet)
	}
}

func (c *Call) forwardCandidate(s int, cand Candidate, ev Event) {
	to := c.legs[1-s].Caps()
	switch {
	case !to.Trickle:
		c.g.metrics.candidateDropped("late")
	case !to.MDNS && IsMDNSCandidate(cand.Line):
		c.g.metrics.candidateDropped("mdns")
	case trimCandidate(cand.Line) == cand.Line:
		c.send(1-s, ev)
	default:
		cand.Line = trimCandidate(cand.Line)
		c.send(1-s, cand)
	}
}

func (c *Call) onEndOfCandidates(s int, e EndOfCandidates) {
	switch {
	case c.st.gather[s] != nil:
		c.st.gather[s].end(e.Mid)
		if c.st.gather[s].complete() {
			c.flushGather(s)
		}
	case !c.st.sdpOut[s]:
		c.st.held[s] = append(c.st.held[s], e)
	case c.legs[1-s].Caps().Trickle:
		c.send(1-s, e)
	}
}

// beginBatch calls BeginBatch on leg s if it is a Batcher and returns it
// for endBatch (nil if it is none). It returns the leg, not its EndBatch:
// a method value of an interface is a closure allocated per call.
func (c *Call) beginBatch(s int) Batcher {
	b, ok := c.legs[s].(Batcher)
	if !ok {
		return nil
	}
	b.BeginBatch()
	return b
}

// endBatch ends the batch beginBatch opened on b, if any.
func endBatch(b Batcher) {
	if b != nil {
		b.EndBatch()
	}
}
