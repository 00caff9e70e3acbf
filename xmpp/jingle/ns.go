package jingle

// XML namespaces, exactly as in docs/protocols.md §2.1.
const (
	NSJingle        = "urn:xmpp:jingle:1"
	NSJingleErrors  = "urn:xmpp:jingle:errors:1"
	NSRTP           = "urn:xmpp:jingle:apps:rtp:1"
	NSRTPAudio      = "urn:xmpp:jingle:apps:rtp:audio"
	NSRTPVideo      = "urn:xmpp:jingle:apps:rtp:video"
	NSRTPInfo       = "urn:xmpp:jingle:apps:rtp:info:1"
	NSRTPErrors     = "urn:xmpp:jingle:apps:rtp:errors:1"
	NSICEUDP        = "urn:xmpp:jingle:transports:ice-udp:1"
	NSRawUDP        = "urn:xmpp:jingle:transports:raw-udp:1"
	NSICE           = "urn:xmpp:jingle:transports:ice:0"
	NSDTLS          = "urn:xmpp:jingle:apps:dtls:0"
	NSGrouping      = "urn:xmpp:jingle:apps:grouping:0"
	NSSSMA          = "urn:xmpp:jingle:apps:rtp:ssma:0"
	NSRTCPFB        = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
	NSRTPHdrExt     = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
	NSDTLSSCTP      = "urn:xmpp:jingle:transports:dtls-sctp:1"
	NSDataChannel   = "urn:xmpp:jingle:transports:webrtc-datachannel:0"
	NSRFC3264       = "urn:ietf:rfc:3264"
	NSRFC5888       = "urn:ietf:rfc:5888"
	NSRFC5576       = "urn:ietf:rfc:5576"
	NSJingleMessage = "urn:xmpp:jingle-message:0"

	// nsRTPInfoMisspelt is the misspelling in an XEP-0166 example; accepted on input.
	nsRTPInfoMisspelt = "urn:xmpp:jingle:apps:rtp:1:info"
)
