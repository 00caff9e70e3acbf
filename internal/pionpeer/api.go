package pionpeer

import (
	"fmt"
	"log/slog"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// NewAPI returns a pion API whose peer connections stay on loopback, with
// pion's default codecs and interceptors. With a non-nil log, pion's own
// diagnostics go to it at debug level (see Logs) instead of stderr.
func NewAPI(log *slog.Logger) *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(settings(log)))
}

// NewTelephonyAPI is NewAPI for peers that meet telephony, the way
// browsers do: the media engine also knows RFC 4733 telephone-event (see
// RegisterTelephoneEvent), so in-band DTMF is negotiated; and media from an
// answerer that declares no SSRC and sends no MID header extension is
// taken when the call has one media section (rtpengine answering for a
// plain-RTP phone does that; Chromium accepts it, pion by default drops it
// as early media).
func NewTelephonyAPI(log *slog.Logger) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("pionpeer: codecs: %w", err)
	}
	if err := RegisterTelephoneEvent(m); err != nil {
		return nil, err
	}
	se := settings(log)
	se.SetHandleUndeclaredSSRCWithoutAnswer(true)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m)), nil
}

// settings keeps a peer on loopback.
func settings(log *slog.Logger) webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	if log != nil {
		se.LoggerFactory = Logs{Log: log}
	}
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// A trickled candidate often arrives after the peer's first check, so
	// the pair starts peer-reflexive; pion then waits 1 s before nominating
	// it, browsers do not. Without the wait, time to media measures the
	// gateway rather than that pion default (1.10 s vs 0.10 s, browser to
	// browser).
	se.SetPrflxAcceptanceMinWait(0)
	return se
}

// NewPeerConnection returns a peer connection of NewAPI(log) with the
// default configuration (no ICE servers).
func NewPeerConnection(log *slog.Logger) (*webrtc.PeerConnection, error) {
	pc, err := NewAPI(log).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("pionpeer: peer connection: %w", err)
	}
	return pc, nil
}
