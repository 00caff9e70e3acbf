// Package interop is sigbridge's interop harness: it drives real peers
// through a gateway deployment over the wire and reports a matrix of
// which calls work.
//
// # What it checks
//
// A Scenario is a small declarative description of one call: the caller's
// dialect (browser WebSocket JSON, SIP or XMPP Jingle) and agent (a pion
// WebRTC peer, headless Chromium, SIPp, or a third-party client: JsSIP,
// StanzaJS, baresip), the callee's dialect and agent, the media (audio
// only, or audio, video and a data channel), the expected outcome
// (answered, busy, declined, cancelled, no answer, unknown target, callee
// vanished, refused by the gateway), who hangs up, and optional steps
// inside an answered call (hold and resume by re-offer, lingering past the
// dialog probes, DTMF in-band and as signaling). Matrix returns the whole catalogue: every caller ×
// callee pair sigbridge bridges, every outcome; the third-party rows
// (ThirdPartyScenarios); one probe call for each
// pair it refuses by design (SIP → SIP, Jingle → Jingle: Scenario.
// NotBridged), reported Unsupported when the gateway refuses it; and the
// known limitations of the gateway (Scenario.Known), whose expected
// failures are reported KnownFailure (XFAIL) and do not fail a run.
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
// The harness imports no sigbridge package but one: xmpp/jingle, the pure
// SDP ⇄ Jingle converter (pion/sdp and the standard library only), for its
// Jingle client, as xmpp/xmpptest does. A mapping bug shared by the
// gateway and the harness could cancel out; the converter's own golden and
// client-shape tests guard against that, and every Jingle call must still
// carry media to pass. Its agents speak the wire protocols (browser JSON
// over WebSocket, SIP over UDP and TCP, XMPP), so the same scenarios test
// our own local deployment (StartLocal runs the sigbridge binary as a
// subprocess, with a Prosody it starts) and anybody else's (a Deployment
// built from --ws, --sip, --xmpp). A Deployment may name every node of a
// cluster (Deployment.WSNodes, several --ws): each scenario puts its two
// browser-dialect parties on different nodes (nodes.go).
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
// (SIP UA on sipgo, UDP and TCP), endpoint_sipp.go and testdata/sipp (SIPp,
// run by internal/sipptest, for the SIP scenarios without media: its
// scenario files, embedded, log milestones the agent reads; SIPp's exit
// status is its verdict),
// endpoint_jingle.go and xmppclient.go (Jingle client on mellium: JMI,
// trickle ICE, hold by session-info), prosody.go and rtpengine.go (the
// Prosody and the rtpengine of a local deployment, started and stopped by
// internal/daemon and internal/rtpenginetest), deploy.go and local.go (deployments), nodes.go (browser parties spread
// over a cluster's nodes), cluster.go (a local cluster of gateways:
// StartLocalCluster, ClusterDeployment), media_check.go (the
// media verdict), summary.go (matrix cells), report_text.go,
// report_json.go, report_html.go. Third-party clients: clients.go (bundles
// testdata/clients, an npm project with JsSIP, StanzaJS and esbuild, at run
// time), endpoint_jssip.go and endpoint_stanza.go (their agents, run like the
// Chromium agent by startPageAgent with testdata/clients/*_agent.js),
// endpoint_baresip.go (baresip over ctrl_tcp, from a generated config
// directory), testdata/sipp/uac_plainrtp.xml (a plain-RTP phone refused
// with 488).
package interop
