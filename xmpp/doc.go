// Package xmpp is sigbridge's XMPP adapter: it keeps one XML stream to an
// XMPP server and turns Jingle sessions (XEP-0166/0167/0176/0320) and Jingle
// Message Initiation (XEP-0353) into legs of gateway calls, so that XMPP
// users can call browser users and SIP targets and be called by them.
//
// # Modes
//
// As an XEP-0114 component (the default) the gateway owns a domain such as
// gw.example.org. Every local part is a call target, XEP-0106 unescaped:
// alice@gw.example.org calls the browser user "alice",
// bob\40pbx.example.org@gw.example.org calls sip:bob@pbx.example.org, and
// +15551234@gw.example.org calls the number. A call from a browser or SIP
// caller to "xmpp:juliet@example.org" reaches Juliet from the caller's own
// gateway JID (alice@gw.example.org), so she can call back. The component
// connection has no TLS and a SHA-1 handshake, so it is only dialed on
// loopback or private addresses unless ComponentConfig.AllowPublic is set.
//
// In client mode (ClientConfig) the gateway logs in to an account, for
// hosted servers that do not allow components. Callers call the account;
// the target is named by a <target xmlns='urn:xmpp:sigbridge:0'/> child of
// the JMI propose, else ClientConfig.DefaultTarget.
//
// # Flow
//
// Incoming (an XMPP user calls a gateway JID): propose -> proceed at once
// (or reject when the router refuses the target), then the caller's
// session-initiate is acknowledged, converted with jingle.JingleToSDP and
// handed to gateway.Place with this adapter's leg as the caller ("xmpp:" +
// the caller's bare JID). The callee's answer goes back as session-accept,
// ringing as session-info, candidates as transport-info.
//
// Outgoing (Dial, for "xmpp:" targets): when the bridge delivers the offer,
// a propose goes to the bare JID; the first device that proceeds gets the
// session-initiate; its session-accept becomes the answer. A caller that
// gives up before that retracts the proposal; reject maps to busy/decline.
// Devices that do Jingle but not JMI are reached too (fork.go): the
// adapter keeps the presence users share with gateway JIDs (directed
// presence, or a subscription, which it approves and returns) and their
// XEP-0115 capabilities (disco#info cached by ver, devices.go, caps.go);
// a call to a bare JID also sends session-initiate to each known device
// without urn:xmpp:jingle-message:0, the first to take the call wins and
// the others get retract or session-terminate. A full-JID target
// ("xmpp:juliet@example.org/phone", or in the component's XEP-0106 form
// "xmpp:juliet\40example.org@gw.example.org/phone") gets session-initiate
// directly, no JMI. In a cluster (SetDeviceStore) the table is mirrored
// into the cluster's state store, loaded by the node that takes the
// component over, and corrected by presence probes (devicestore.go).
//
// Hang-ups map both ways between session-terminate reasons and
// gateway.Hangup reasons (Jingle condition names are the gateway's
// vocabulary). When the stream to the server is lost, every call on it ends
// on its other leg with connectivity-error, and Run reconnects with
// exponential backoff. Writes go through internal/xmppwrite, one at a time,
// each under a deadline of its own (mellium's per-write context handling
// could fail another sender's write); a write that fails closes the stream,
// which then reconnects.
//
// A peer that vanishes without session-terminate is noticed by the session
// ping (ping.go): while a session is pending or active, an empty
// session-info goes to the peer every Config.SessionPingInterval, one at a
// time, each bounded by Config.SessionPingTimeout; an answer saying the
// peer is gone, or none, ends the call with connectivity-error (other error
// answers keep it). An unavailable presence from the peer's full JID ends
// it at once (presence.go).
//
// # Renegotiation
//
// Once a session is active, re-offers work both ways (reneg.go). A
// re-offer from the bridge is diffed against the other leg's previous
// SDP: a direction-only change is answered at once from the cache (the
// peer's SDP with RFC 3264 directions, o= bumped) and the peer is told
// with session-info <hold/>/<unhold/> and content-modify; new ICE
// credentials go to the peer as a restart transport-info and its reply
// becomes the Answer; appended m-lines become content-add; anything else
// gets gateway.Failure 488, so the bridge withdraws the offer and the call
// goes on. From the peer, session-info hold/unhold, content-modify and
// transport-info with new credentials become re-offers toward the other
// leg, built from the peer's SDP; their answers are absorbed. Within a
// session the initiator wins crossing changes (conflict + <tie-break/>).
//
// # Concurrency
//
// mellium's Serve loop reads the stream on one goroutine and calls
// HandleXMPP per stanza. The handler decodes the stanza, writes the
// immediate reply (every Jingle IQ is acknowledged before anything else
// happens, errors per XEP-0166) and posts the work to the session. Each
// Jingle session has one goroutine that owns its state; the handler only
// reads an atomic snapshot of it. The session table has one mutex, never
// held while sending. Leg.Deliver only queues. Panics are recovered per
// stanza and per session.
//
// # Untrusted input
//
// A framer between the connection and mellium's decoder cuts the stream
// into top-level elements and checks each one before mellium sees it: at
// most Config.MaxStanzaBytes (256 KiB), no DTD, comment or processing
// instruction, depth and attribute limits, well-formed. A refused IQ gets
// bad-request (policy-violation for size); the stream stays up. Payloads
// are decoded from mellium's tokens into the types of xmpp/jingle, which
// validate candidates while decoding; peer input is never echoed back in
// error texts.
//
// # Files
//
//	adapter.go        Adapter: New, Run (reconnect with backoff), the session table
//	component.go      XEP-0114 component connection and handshake
//	client.go         client mode: STARTTLS, SASL, bind, presence with caps
//	config.go         Config and its defaults and checks
//	limits.go         limits and default timers
//	framer.go         cuts the byte stream into top-level elements, checks them
//	framedconn.go     net.Conn whose reads go through the framer
//	stanzacheck.go    strict per-element XML check (no DTD, depth, attributes)
//	stream.go         one live stream: send, IQs out, async replies
//	handler.go        HandleXMPP: decode, acknowledge, dispatch
//	stanza.go         decoding shape of incoming stanzas, stanza errors
//	iq.go             IQs we sent, matched on id and sender
//	route.go          Jingle IQs and JMI messages to their session
//	jmi.go            XEP-0353 elements and messages
//	presence.go       presence: devices, subscriptions, unavailable peers
//	devices.go        presence and capabilities of users' devices (bounded)
//	devicestore.go    DeviceStore: the devices table mirrored for a takeover
//	caps.go           XEP-0115 caps and verification of disco#info answers
//	disco.go          our disco#info answer and caps
//	jid.go            XEP-0106 escaping, gateway JIDs <-> targets
//	session.go        one Jingle session: state, goroutine, events
//	session_in.go     calls from XMPP users (propose, precheck, place)
//	session_out.go    calls to XMPP users (Dial, propose, proceed, accept)
//	fork.go           forking to JMI and direct devices; full-JID targets
//	session_events.go bridge and Jingle events, terminate, sending
//	candidate.go      trickle ICE both ways
//	reneg.go          mid-call renegotiation both ways
//	sdpedit.go        SDP readers and editors for renegotiation
//	ping.go           session pings; peers that vanish
//	reason.go         Jingle reasons <-> gateway reasons
//	leg.go            the gateway.Leg of a session
//
// # Import tiers
//
// xmpp imports gateway, xmpp/jingle, mellium and pion/sdp; it never imports
// another adapter (ws, sip) or cmd. xmpp/jingle imports only pion/sdp and
// the standard library. xmpp/xmpptest (Prosody starter, Jingle test client,
// pion test peer) imports xmpp/jingle, mellium and pion, never this package,
// so the interop harness can use it against any deployment.
package xmpp
