package jingle

import "errors"

// Sentinel errors. Every error returned by this package wraps at least one
// of them; test with errors.Is.
var (
	// ErrBadXML: the XML is malformed or breaks a safety rule. The more
	// specific ErrTooLarge, ErrDTD, ErrTooDeep, ErrTooManyAttrs and
	// ErrProcInst are always wrapped together with ErrBadXML.
	ErrBadXML = errors.New("jingle: bad XML")
	// ErrTooLarge: input over MaxStanzaSize.
	ErrTooLarge = errors.New("input too large")
	// ErrDTD: a DOCTYPE or other <!...> directive (XXE, billion laughs).
	ErrDTD = errors.New("DTD or directive not allowed")
	// ErrTooDeep: element nesting deeper than MaxDepth.
	ErrTooDeep = errors.New("XML nested too deep")
	// ErrTooManyAttrs: more than MaxAttrs attributes on one element.
	ErrTooManyAttrs = errors.New("too many attributes")
	// ErrProcInst: a processing instruction or a comment.
	ErrProcInst = errors.New("processing instruction or comment not allowed")
	// ErrBadCandidate: a malformed candidate (SDP line or XML element).
	ErrBadCandidate = errors.New("jingle: bad candidate")
	// ErrBadSDP: an SDP that cannot be expressed (bad attribute, missing
	// media, ...).
	ErrBadSDP = errors.New("jingle: bad SDP")
	// ErrBadJingle: a Jingle element that cannot be turned into SDP.
	ErrBadJingle = errors.New("jingle: bad Jingle")
	// ErrLimit: an SDP or Jingle limit of protocols.md §6.1 is exceeded.
	ErrLimit = errors.New("jingle: limit exceeded")
)

// Limits (protocols.md §6.1).
const (
	MaxStanzaSize     = 256 << 10 // bytes of XML accepted by Parse
	MaxDepth          = 64        // element nesting, the root counts as 1
	MaxAttrs          = 64        // attributes per element, xmlns included
	MaxMediaLines     = 32        // m-lines / contents
	MaxFormats        = 128       // formats (payload types) per m-line
	MaxCandidates     = 64        // candidates per m-line / transport
	MaxSDPLineLength  = 4 << 10   // bytes per SDP line (checked by SDPToJingle)
	maxFoundationSize = 32
)
