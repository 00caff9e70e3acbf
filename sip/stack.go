package sip

// legStack is about the stack a leg's goroutine needs beyond its own
// frames: sending a request through sipgo and our client transaction
// (the INVITE, a BYE), and for the outbound leg the call's handling of
// the answer (gateway.Call.PostInline: the bridge, the browser leg's
// rendering and write).
const legStack = 8 << 10

// growStack grows the calling goroutine's stack to what a leg's work
// needs in one step, while it is shallow. A fresh goroutine starts small
// and grows on the way (2, 4, 8, then 16 KiB), each time copying the deep
// stack of a handler and adjusting every frame (about 1 % of a browser →
// SIP call's CPU at 3,000 calls/s, in outLeg.run and in the goroutine
// that sends the BYE). The goroutines that call it end when their work is
// done (a held call keeps none), so no idle goroutine keeps the stack.
//
//go:noinline
func growStack() {
	var pad [legStack]byte
	touch(pad[:])
}

//go:noinline
func touch(b []byte) { b[0] = 1 }

// serveWoken is serve on a goroutine started for it when a parked leg's
// queue gets work (queue.push, pushHere): the BYE of a hang-up, an
// in-dialog request.
func (l *legCore) serveWoken() {
	growStack()
	l.serve()
}
