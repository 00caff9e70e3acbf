// Package rtpengine is a client of rtpengine's ng control protocol
// (https://rtpengine.readthedocs.io/en/latest/ng_control_protocol.html):
// a random cookie, a space and a bencoded dictionary in one UDP datagram,
// answered with the same cookie. sigbridge's SIP adapter uses it to anchor
// media: rtpengine turns WebRTC media (ICE, DTLS-SRTP, rtcp-mux) into
// plain RTP (RTP/AVP) for SIP trunks and phones, and back.
//
// Requests are retransmitted with the same cookie every Config.Retransmit
// until Config.Timeout (rtpengine answers a repeated cookie from its
// cache); a context bounds every call. Several instances may be
// configured: health pings mark each up or down, a new call goes to the
// first healthy one (failing over to the next on a timeout), and all later
// requests for a call-id go to the instance that took its offer. A call
// whose instance died fails with ErrUnavailable; it does not move.
//
// Decode accepts at most MaxMessage bytes, 32 levels of nesting and 16384
// elements, and never panics (FuzzDecode).
//
// Files: bencode.go (Encode, Decode), dict.go (Dict accessors), conn.go
// (one UDP socket per instance, cookies, retransmission), client.go
// (Client, health pings, failover, stickiness), commands.go (Offer,
// Answer, Delete, Query, List, PlayDTMF; Options, ToPlain, ToWebRTC),
// metrics.go (ng errors, ng latency, anchored calls).
package rtpengine
