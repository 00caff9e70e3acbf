// Package siptest provides real WebRTC endpoints for sigbridge's SIP tests.
//
// Endpoint is a SIP user agent (sipgo) whose calls carry real media (Peer,
// pion/webrtc v4): it stands in for a WebRTC-capable SIP endpoint such as an
// Asterisk endpoint with webrtc=yes, which does vanilla ICE (complete SDP
// offers and answers with every gathered candidate, a=end-of-candidates) and
// DTLS-SRTP. Peer runs on loopback only (interface "lo", loopback candidates
// included, mDNS off) and sends an Opus-sized RTP packet every 20 ms once
// ICE is connected, counting what it receives, so a test can insist that a
// call exchanges packets rather than merely signals.
//
// PlainUA is the opposite: a SIP phone without WebRTC (RTP/AVP, no ICE, no
// DTLS, G.711 and telephone-event) whose calls send and count real RTP on
// loopback, the far end of calls anchored in rtpengine. It answers
// re-INVITEs, can hold and resume, and can vanish without a BYE. Both are
// built on one sipgo stack (stack.go: user agent, server, client, dialog
// caches, ACK and OPTIONS handlers); both wait for sipgo's pool to hold
// their socket before their first request (internal/sippool).
package siptest
