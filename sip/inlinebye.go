package sip

import (
	"github.com/emiago/sipgo/sip"
)

// The peer's BYE of a confirmed call, run on the UDP reader that read it.
//
// A confirmed dialog's leg has no goroutine while nothing happens
// (queue.park): a request for it used to start one, the handler's
// (sipgo's, then Adapter.serveTx), which then ran the leg itself
// (legCore.pushHere). For a BYE, the request that ends every SIP → browser
// call, that goroutine does little: the 200, the hang-up posted to the
// call, the leg's clean-up. None of it blocks, so the reader does it and
// reads on (one goroutine fewer per call, and no fresh stack to grow).
// Only when the leg is parked at that moment (pushIfParked: nothing else
// is queued, no goroutine of the leg runs) and holds no rtpengine anchor
// (its clean-up is a request to rtpengine): otherwise, and for a BYE that
// fails validation, the handler's goroutine runs as for any request.

// byeInline runs req, a new BYE in tx, on the calling goroutine; false:
// nothing was done, the caller starts the handler's goroutine.
func (a *Adapter) byeInline(req *sip.Request, tx *srvTx) bool {
	if req.Method != sip.BYE || !hasToTag(req) {
		return false
	}
	leg, ok := a.dialogs.find(req).(interface {
		pushIfParked(any) (waker, bool)
		anchored() bool
	})
	if !ok {
		return false
	}
	if code, _ := validateRequest(req); code != 0 || len(unsupportedRequire(req)) > 0 {
		return false
	}
	r := newInRequest(req, tx)
	wake, ok := leg.pushIfParked(r)
	if !ok {
		return false
	}
	a.m.transaction("in", "BYE")
	a.gm.Message("sip", "in", "BYE")
	watchTx(req, tx)
	if leg.anchored() { // read after pushIfParked: the parked leg's goroutine wrote it before parking
		go func() {
			defer tx.handlerDone()
			defer a.recoverRequest(req, tx)
			wake.serveWoken()
		}()
		return true
	}
	defer tx.handlerDone()
	defer a.recoverRequest(req, tx)
	wake.serveWoken()
	return true
}

// pushIfParked queues x only when the leg's goroutine is parked, and then
// returns what runs the leg (queue.park's wake) for the caller to run;
// false: x was not queued.
func (l *legCore) pushIfParked(x any) (waker, bool) { return l.q.pushIfParked(x) }

// anchored reports whether the leg's media goes through rtpengine. Only
// the leg's goroutine, or a caller that got the leg from pushIfParked,
// may ask.
func (l *legCore) anchored() bool { return l.anchor != nil }
