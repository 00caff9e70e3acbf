package gateway

// Caps declares what a leg's dialect can do; the bridge adapts between two legs
// with different capabilities.
type Caps struct {
	// Trickle is true when the leg accepts candidates after the SDP
	// (browsers, Jingle). A leg without it (classic SIP) gets complete SDPs.
	Trickle bool
	// MDNS is true when the far end can resolve mDNS ".local" candidates.
	MDNS bool
	// ReadsSDP is true when the leg only reads the SDPs it is delivered,
	// within Deliver, and keeps nothing that shares their memory (slices
	// of attributes, formats, m-lines; strings are fine). The bridge may
	// then hand it the very SDP the other leg posted instead of a copy,
	// when it has nothing to change in it (browsers: about 6 KB of a
	// Chrome offer's attributes not copied per SDP).
	ReadsSDP bool
	// GivesSDP is true when the leg never reads or changes an SDP once it
	// has posted it (an Offer, an Answer, PlaceRequest.Offer): the bridge
	// may then change it in place for the other leg (half trickle, mDNS
	// filtering) instead of changing a copy.
	GivesSDP bool
}

// Leg is one side of a call, in one dialect.
type Leg interface {
	// Kind names the dialect ("ws", "sip", "xmpp"), for logs and metrics.
	Kind() string
	// Caps tells the bridge what the leg can do.
	Caps() Caps
	// Deliver hands the leg an event from the other side of the call. The
	// bridge calls it only from the call's goroutine; it must not block
	// (queue and write on the leg's own goroutine). An error means the leg
	// is gone, and the call ends.
	Deliver(ev Event) error
}

// Batcher is an optional interface of a Leg that writes to a socket. The
// bridge brackets events it delivers back to back with BeginBatch and
// EndBatch (an answer and the end-of-candidates that completes it): the
// leg may hold back what Deliver queued until EndBatch, so that they go
// out in one write. EndBatch must send what was held. Both are called on
// the call's goroutine, like Deliver.
type Batcher interface {
	BeginBatch()
	EndBatch()
}
