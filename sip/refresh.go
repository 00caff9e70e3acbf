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

func digestSDP(sd *sdp.SessionDescription) (sdpDigest, bool) {
	b, err := sd.Marshal()
	if err != nil {
		return sdpDigest{}, false
	}
	return sdpDigest{sum: sha256.Sum256(b), set: true}, true
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
