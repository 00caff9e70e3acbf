package sip

import "github.com/emiago/sipgo/sip"

// sipgo refuses to send a UDP datagram longer than sip.UDPMTUSize-200
// bytes. The SDPs of browsers and WebRTC endpoints are larger than that.
// Requests we send switch to TCP when the route leaves the transport to us
// (RFC 3261 §18.1.1), but a response must use its request's transport, so
// UDP messages may be as large as sipgo can read (sip.TransportBufferReadSize)
// and rely on IP fragmentation, as Asterisk and FreeSWITCH do. sipgo has no
// per-transport option for this; the package variable is set once, before
// any transport exists.
func init() {
	sip.UDPMTUSize = int(sip.TransportBufferReadSize) + 200
}
