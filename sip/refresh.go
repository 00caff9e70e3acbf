package sip

import (
	"crypto/sha256"

	"github.com/pion/sdp/v3"
)

// Session refreshes. PBXs with RFC 4028 session timers (Asterisk,
// FreeSWITCH) refresh a call every few minutes with a re-INVITE or an
// UPDATE that repeats their last SDP, o= version unchanged. RFC 3264 §8
// says such an offer changes nothing, so it is answered here with the SDP
// we last sent, and the other leg (a browser, a Jingle client) sees no
// renegotiation. Only an SDP identical to the peer's last one counts: some
// UAs change their SDP without raising the o= version, and those offers
// still go through the bridge.

// sdpDigest is the SHA-256 of a marshaled SDP: a held call keeps 32 bytes
// to recognise a refresh, not the peer's whole SDP.
type sdpDigest struct {
	sum [sha256.Size]byte
	set bool
}

// digestSDP hashes sd as pion's Marshal writes it (two SDPs get the same
// digest when Marshal gives both the same bytes), rendered by appendSDP
// into a pooled buffer rather than into a new copy of the whole SDP. It
// never fails (neither does Marshal); the bool is kept for callers.
func digestSDP(sd *sdp.SessionDescription) (sdpDigest, bool) {
	bp := sdpBufPool.Get().(*[]byte)
	b := appendSDP((*bp)[:0], sd)
	d := sdpDigest{sum: sha256.Sum256(b), set: true}
	if cap(b) <= maxPooledSDPBuf {
		*bp = b
		sdpBufPool.Put(bp)
	}
	return d, true
}

// noteRemote records an SDP the peer sent (offer or answer).
func (l *legCore) noteRemote(sd *sdp.SessionDescription) {
	if sd == nil {
		return
	}
	if d, ok := digestSDP(sd); ok {
		l.remoteSDP = d
	}
}

// isRefresh reports whether sd repeats the peer's last SDP while we have
// an SDP of ours to repeat.
func (l *legCore) isRefresh(sd *sdp.SessionDescription) bool {
	if !l.remoteSDP.set || l.localSDP == nil || sd == nil {
		return false
	}
	d, ok := digestSDP(sd)
	return ok && d == l.remoteSDP
}
