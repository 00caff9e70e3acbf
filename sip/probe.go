package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// Dialog probing notices a SIP peer that vanished without BYE. The gateway
// is not in the media path, so it cannot watch RTP like a PBX does; instead
// every confirmed dialog gets an in-dialog OPTIONS every
// DialogProbeInterval. A 481 or 408, a transport error or no final
// response within DialogProbeTimeout ends the dialog (RFC 3261 §12.2.1.2,
// RFC 5057 §5.1): the call is hung up with connectivity-error. Any other
// final response (200, 405, 501, ...) proves the peer keeps the dialog.

// probeDue is the probe timer firing on the leg's queue.
type probeDue struct{}

// probeResult is the outcome of one OPTIONS probe.
type probeResult struct {
	code int
	err  error
}

// ReasonVanished is the hang-up reason of a dialog whose probe failed.
var ReasonVanished = gateway.Reason{Condition: gateway.CondConnectivityError, Code: 408,
	Text: "SIP peer stopped answering in-dialog requests"}

// armProbe schedules the next probe, unless probing is off.
func (l *legCore) armProbe() {
	d := l.a.cfg.DialogProbeInterval
	if d <= 0 || l.ended {
		return
	}
	if l.probeTimer != nil {
		l.probeTimer.Stop()
	}
	l.probeTimer = time.AfterFunc(d, func() { _ = l.push(probeDue{}) })
}

// stopProbe stops the probe timer when the dialog ends.
func (l *legCore) stopProbe() {
	if l.probeTimer != nil {
		l.probeTimer.Stop()
	}
}

// startProbe sends one OPTIONS in the dialog on its own goroutine. A
// re-INVITE in flight is a probe of its own (its 408/481 ends the dialog).
func (l *legCore) startProbe() {
	if l.probing || l.reinvOut || l.ended {
		l.armProbe()
		return
	}
	l.probing = true
	req := sip.NewRequest(sip.OPTIONS, l.remoteTarget)
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	lctx := l.context()
	go func() {
		ctx, cancel := context.WithTimeout(lctx, l.a.cfg.DialogProbeTimeout)
		defer cancel()
		res, err := l.doInDialog(ctx, req)
		r := probeResult{err: err}
		if err == nil {
			r.code = res.StatusCode
		}
		_ = l.push(r)
	}()
}

// finishProbe acts on a probe's outcome: the peer is there, or the call
// ends.
func (l *legCore) finishProbe(r probeResult) {
	l.probing = false
	if l.ended {
		return
	}
	if r.err != nil && l.a.ctx.Err() != nil {
		return // the adapter is closing; Shutdown hangs the leg up
	}
	if !probeFailed(r) {
		l.a.m.probe("alive")
		l.armProbe()
		return
	}
	l.a.m.probe("gone")
	l.log.Info("SIP peer did not answer the dialog probe; ending call", "code", r.code, "err", r.err)
	l.hangup(ReasonVanished)
	if r.code != 481 {
		// Best effort, bounded like the probe: a proxy may still hold the dialog.
		l.sendByeWithin(ReasonVanished, l.a.cfg.DialogProbeTimeout)
	}
}

// probeFailed reports whether the dialog is gone (RFC 5057 §5.1).
func probeFailed(r probeResult) bool {
	switch {
	case r.err != nil:
		return true
	case r.code == 408 || r.code == 481:
		return true
	}
	return false
}
