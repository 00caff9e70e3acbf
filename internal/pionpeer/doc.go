// Package pionpeer holds what sigbridge's pion/webrtc media peers share:
// the loopback-only WebRTC API they are built with (NewAPI,
// NewPeerConnection) and the adapter that sends pion's own diagnostics to
// a *slog.Logger (Logs). For telephony (in-band DTMF, media relays that
// declare no SSRC): NewTelephonyAPI and
// RegisterTelephoneEvent (RFC 4733 telephone-event at 48 and 8 kHz, as
// Chromium offers it), AudioTrack (an Opus track that also plays digits as
// telephone-event packets on its own RTP stream) and DigitCounter (counts
// such packets and reads their digits).
//
// Files: api.go (NewAPI, NewTelephonyAPI), logs.go, dtmf.go (payload format,
// DigitCounter), audiotrack.go (AudioTrack).
//
// The peers themselves live with their callers: ws/wstest, sip/siptest and
// xmpp/xmpptest (test helpers) and interop (the media end of the interop
// harness). Every one gathers host candidates on interface "lo" only,
// includes loopback candidates, disables mDNS, uses UDP over IPv4 and
// accepts peer-reflexive pairs without pion's default wait, so calls stay
// on the machine and time to media measures the gateway, not pion.
package pionpeer
