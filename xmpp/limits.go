package xmpp

import (
	"errors"
	"time"
)

// Limits on what a peer may send (protocols.md §6.1).
const (
	// DefaultMaxStanzaBytes caps one top-level element of the stream.
	DefaultMaxStanzaBytes = 256 << 10
	// MaxStanzaDepth caps element nesting inside a stanza (the stanza is 1).
	MaxStanzaDepth = 64
	// MaxStanzaAttrs caps the attributes of one element.
	MaxStanzaAttrs = 64
	// discardFactor: a stanza larger than discardFactor times the limit is no
	// longer skipped but ends the stream (policy-violation).
	discardFactor = 16
	// maxHeadBytes caps the start tag kept to answer a refused stanza.
	maxHeadBytes = 8 << 10
	// maxSessions caps the Jingle sessions and proposals one adapter keeps.
	maxSessions = 4096
	// sessionInbox is the event queue length of one Jingle session.
	sessionInbox = 256
	// maxPending caps candidates held for a session before it may send them.
	maxPending = 256
	// maxFuture caps candidates of an ICE generation not known yet.
	maxFuture = 32
	// maxEarly caps the transport-infos a device of a fork may send before
	// it wins (fork.go); later ones are dropped.
	maxEarly = 32
)

// Default timers.
const (
	DefaultProposeTimeout = 60 * time.Second
	DefaultIQTimeout      = 30 * time.Second
	// DefaultSessionPingInterval and DefaultSessionPingTimeout: a peer
	// that vanished mid-call is noticed within their sum (ping.go).
	DefaultSessionPingInterval = 15 * time.Second
	DefaultSessionPingTimeout  = 5 * time.Second
	// ringingFallback: a callee that sent neither JMI ringing nor anything
	// else by then is reported as ringing (older Conversations sends none).
	ringingFallback = time.Second
	backoffMin      = 500 * time.Millisecond
	backoffMax      = 30 * time.Second
	// stableAfter: a stream that lived this long resets the backoff.
	stableAfter = 30 * time.Second
	sendTimeout = 10 * time.Second
	// closeTimeout bounds the closing tag of a stream we end (stream.close).
	closeTimeout = time.Second
)

// Errors for refused stanzas. Each refused IQ get/set is answered with an IQ
// error (bad-request, or policy-violation for size); the stream stays up.
var (
	ErrStanzaTooLarge = errors.New("xmpp: stanza too large")
	ErrRestrictedXML  = errors.New("xmpp: restricted XML (DTD, comment or processing instruction)")
	ErrMalformedXML   = errors.New("xmpp: malformed XML")
	ErrTooDeep        = errors.New("xmpp: XML nested too deep")
	ErrTooManyAttrs   = errors.New("xmpp: too many attributes")
)
