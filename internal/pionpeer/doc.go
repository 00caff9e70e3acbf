// Package pionpeer holds what sigbridge's pion/webrtc media peers share:
// the loopback-only WebRTC API they are built with (NewAPI,
// NewPeerConnection) and the adapter that sends pion's own diagnostics to
// a *slog.Logger (Logs).
//
// The peers themselves live with their callers: ws/wstest, sip/siptest and
// xmpp/xmpptest (test helpers) and interop (the media end of the interop
// harness). Every one gathers host candidates on interface "lo" only,
// includes loopback candidates, disables mDNS, uses UDP over IPv4 and
// accepts peer-reflexive pairs without pion's default wait, so calls stay
// on the machine and time to media measures the gateway, not pion.
package pionpeer
