// Package interop is sigbridge's interop harness: it drives real peers
// through a gateway deployment over the wire and reports a matrix of
// which calls work.
//
// # What it checks
//
// A Scenario is a small declarative description of one call: the caller's
// dialect (browser WebSocket JSON, SIP or XMPP Jingle) and agent (a pion
// WebRTC peer, headless Chromium, SIPp), the callee's dialect and agent,
// the media (audio only, or audio, video and a data channel), the expected
// outcome (answered, busy, declined, cancelled, no answer, unknown target,
// callee vanished) and optional steps inside an answered call (hold and
// resume by re-offer). Matrix returns the whole catalogue: every caller ×
// callee pair the deployment supports, every outcome.
//
// Run executes scenarios one after the other against a Deployment. A
// scenario passes only when every signaling step reached its expected
// state within its deadline and, for answered calls, both media ends
// reached ICE connected and counted packets from each other (RTP for
// audio and video, data channel messages for data). Each Result records
// timings (time to ringing, to answer, to media), the reason for a failure
// and a bounded transcript of the protocol messages that led to it.
//
// # Over the wire only
//
// The harness imports no sigbridge package. Its agents speak the wire
// protocols (browser JSON over WebSocket, SIP over UDP, XMPP), so the same
// scenarios test our own local deployment (StartLocal runs the sigbridge
// binary as a subprocess) and anybody else's (a Deployment built from
// --ws, --sip, --xmpp).
//
// Media ends are pion/webrtc agents on loopback (interface lo, loopback
// candidates, no mDNS; see media.go). A media end can withhold its ICE
// candidates (Party.WithholdCandidates): NegativeControl uses that switch
// to prove that the media check can fail.
//
// # Reports
//
// WriteText prints the matrix (rows: caller dialect, columns: callee
// dialect, cells: pass/fail with time to media) and the failures;
// WriteJSON writes every result; WriteHTML writes a self-contained report
// page whose matrix is the element <table id="matrix">.
//
// # Files
//
// scenario.go and catalog.go (the model and the catalogue), result.go and
// transcript.go (what a run records), agent.go (the Agent interface every
// dialect implements), engine.go and flow.go (Run and the per-outcome
// flows), media.go (the pion media end), endpoint_browser.go and
// wsclient.go (browser dialect), endpoint_chromium.go, chromium.go, cdp.go
// and chromium_agent.js (headless Chromium over DevTools), endpoint_sip.go
// (SIP UA on sipgo), deploy.go and local.go (deployments), media_check.go
// (the media verdict), summary.go (matrix cells), report_text.go,
// report_json.go, report_html.go. The Jingle endpoint and the SIPp agent
// are not written yet: their scenarios are reported unsupported.
package interop
