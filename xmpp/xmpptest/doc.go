// Package xmpptest provides real XMPP peers for tests of sigbridge's XMPP
// adapter and for the interop harness:
//
//   - StartProsody runs a Prosody server on loopback for one test: a
//     generated config in t.TempDir() with a VirtualHost, accounts created
//     with prosodyctl, an XEP-0114 component with a secret, and c2s without
//     TLS (test servers only), started and stopped by PID by
//     internal/daemon. A missing prosody binary fails the test.
//   - Client is an XMPP client (mellium) that logs in, acknowledges Jingle
//     IQs, queues what it receives and can send raw XML for bad-input tests;
//     Kill drops its connection without closing the stream (a vanishing
//     client).
//   - Call is a Jingle session of a Client: JMI (XEP-0353) propose/proceed,
//     session-initiate/accept, transport-info both ways, terminate, with a
//     Peer behind it; SDP and Jingle are converted with xmpp/jingle. Mid-call
//     it can hold/unhold (session-info), send content-modify and restart
//     ICE the Conversations way, answers the remote's ICE restarts, and
//     records what the remote sends (WaitJingle).
//   - A Client logged in with LoginWith and Features plays a device with
//     capabilities (device.go): caps in its presence, disco#info answers,
//     subscription requests approved; JingleFeatures is a Jingle client
//     without JMI (like StanzaJS), JMIFeatures one with it. AnswerDirect
//     takes a session-initiate that came without a propose.
//   - Peer is a pion/webrtc endpoint with an Opus track that sends a packet
//     every 20 ms once ICE is connected and counts what it receives, on
//     loopback only (host candidates on "lo", mDNS disabled).
//
// Import tier: xmpptest imports xmpp/jingle, mellium and pion only, never
// the adapter (package xmpp) or the gateway, so it tests any deployment
// over the wire.
package xmpptest
