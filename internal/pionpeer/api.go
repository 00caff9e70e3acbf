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

// NewAPIWithDTMF is NewAPI whose media engine also knows RFC 4733
// telephone-event (see RegisterTelephoneEvent): its peers negotiate
// in-band DTMF the way browsers do.
func NewAPIWithDTMF(log *slog.Logger) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("pionpeer: codecs: %w", err)
	}
	if err := RegisterTelephoneEvent(m); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(settings(log)), webrtc.WithMediaEngine(m)), nil
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
