// Package sip is sigbridge's SIP adapter: a back-to-back user agent on
// emiago/sipgo whose dialogs are gateway legs. Browsers and Jingle clients
// reach SIP phones, PBXs and trunks through it, and SIP callers reach
// browser users and JIDs.
//
// # Legs
//
// Every SIP dialog is one gateway.Leg (Caps: no trickle, no mDNS, so the
// bridge hands it complete SDPs with a=end-of-candidates). An outbound leg
// (uac.go, we are the UAC) is created by Adapter.Dial when the router sends
// a sip: or tel: target here; it INVITEs once the bridge delivers the offer.
// An inbound leg (uas.go, we are the UAS) is created for a dialog-creating
// INVITE, which is placed through gateway.Gateway.Place with the SIP caller
// as "sip:user@host". One goroutine at a time owns a leg's state; the
// bridge's Deliver and the network's in-dialog requests only queue work for
// it (queue.go). While the call is set up that goroutine waits for events;
// once the dialog is confirmed it runs only while work is queued
// (legCore.serve), so a held call has none, and the dialog keeps only what
// requests in it need (dialogstate.go), not sipgo's session with the
// INVITE, its 2xx and the INVITE transaction (which ends at our ACK; a
// retransmitted 2xx is ACKed again from the dialog table). The confirmed
// phase (dialog.go) is shared: BYE both ways,
// re-INVITE both ways (offers travel through the bridge; 491 on glare, with
// the RFC 3261 back-off), OPTIONS, UPDATE without SDP, INFO carrying DTMF
// both ways (dtmf.go, one INFO per digit, in order); session refreshes
// that repeat the peer's last SDP unchanged are answered from cache
// without reaching the other leg (refresh.go). A confirmed dialog
// is probed with in-dialog OPTIONS (probe.go): 408, 481, a transport error
// or no answer within Config.DialogProbeTimeout means the peer vanished and
// the call ends with connectivity-error.
//
// # Flows (protocols.md §5)
//
// Outbound: 180/183 become gateway.Ringing once (a 183's SDP is kept and
// used only if the 200 has none); 200 is ACKed at once and its SDP becomes
// the Answer; a caller hang-up before the answer sends CANCEL and the leg
// waits for the INVITE's final response whatever the CANCEL's answer (200
// or 481); a 2xx that crosses the CANCEL, or comes after the leg gave up
// (late2xx.go), is ACKed and BYEd and never reaches the call; failures keep their SIP code
// (gateway.ReasonFromSIP); one digest challenge (401/407) is answered with
// the route's credentials, a second fails the call; 3xx is never followed.
//
// Inbound: while the gateway sheds load (gateway.Gateway.Shed, overload.go)
// 503 with Retry-After at once, before any other work; no 100 of ours
// (sipgo's transaction sends one after 200 ms if nothing else was sent);
// then loop detection (482), drain (503), the trust
// check (TrustedSources, else a digest challenge against InboundUsers), the
// offer (an offerless INVITE is refused with 488 and
// `Warning: 399 <host> "offerless INVITE not supported"`; an SDP without
// ICE and DTLS-SRTP gets 488 too, unless rtpengine is configured: then a
// plain-RTP offer is anchored, see below), the
// target (an Account's AOR reaches its LocalUser, any other user part is a
// router target, but never sip: or tel:, so SIP cannot hairpin back out),
// and the per-caller limits (503 + Retry-After). 180 on the callee's first
// ringing, 200 with the callee's complete answer retransmitted until the
// ACK, CANCEL answered 200 + 487 (by sipgo) with a cancel Hangup on the
// other leg.
//
// # Media anchoring
//
// With Config.RTPEngine set (anchor.go, client in sip/rtpengine), calls on
// a route with media: rtpengine and inbound plain-RTP offers are anchored:
// each SDP of such a leg passes through rtpengine's ng offer/answer, plain
// RTP (RTP/AVP, no ICE, no DTLS, RTCP demultiplexed) toward the SIP peer,
// ICE and DTLS-SRTP toward the call; re-offers too. Every end of the leg
// deletes the session (legCore.finish); a periodic list deletes sessions
// of ours no live leg owns. rtpengine unreachable: 503.
//
// # Flows and the registrar
//
// Each dialog and each registrar binding remembers its flow (flow.go): the
// WS, TCP or TLS connection its requests came in on, or the UDP source
// address. The sipgo client's transaction requester sends every request of
// such a dialog (BYE, re-INVITE, OPTIONS probes, ACK, CANCEL) over that
// flow; the Contact host (browser UAs use "<random>.invalid") is never
// resolved. The listeners wrap accepted connections (flowConn), so a
// closing connection ends its dialogs at once (ReasonFlowClosed) and drops
// its bindings. InboundUsers may REGISTER (registrar.go); a call to
// "sip:user@<host or realm>" forks to every binding (fork.go): one
// gateway.Fork branch per binding, each an outbound leg over the binding's
// flow on the branch's relay call; the caller's call slot is taken once.
//
// # Safety
//
// Egress is denied by default (policy.go): only targets matching a Route
// leave, user parts with ; ? & @ < > " % \ or white space are refused,
// numbers must match E.164 or the route's pattern, and loopback, private,
// link-local and our own addresses are refused unless the route allows
// private targets. Every header value built from browser or XMPP input goes
// through one validator (sanitize.go). Inbound requests are validated beyond
// sipgo's lenient parser (validate.go: duplicate singleton headers, CSeq,
// Content-Length, Require → 420). Handlers and legs recover from panics
// (gateway.Metrics.Panic) and never take another call down.
//
// # Files
//
// adapter.go (New, Start), shutdown.go (Shutdown, Close: every dialog
// ends before the transports close), server.go and ws_listener.go (listeners),
// handler.go (request dispatch), parse.go (sipgo's parser, LWS-tolerant),
// validate.go and ctlbytes.go (control bytes in typed headers, checked
// without writing them), auth.go (trust, digest),
// policy.go (egress), limits.go, leg.go and queue.go (the leg core), stack.go (a leg goroutine's stack grown in one step), uac.go,
// clienttx.go (our client transactions for requests sent over UDP, in place
// of sipgo's), servertx.go (our server transactions for requests received
// over UDP, in place of sipgo's; txclock.go runs their timers on one
// goroutine), udptake.go (what the UDP readers handle themselves: responses
// to our transactions, retransmitted 2xx, the ACK of our 2xx, every request
// but REGISTER into our server transactions), lightres.go (1xx to an INVITE
// and 2xx to a BYE read without sipgo's parser), lightanswer.go (the 2xx
// with the answer to our INVITE read without sipgo's full parser: only the
// headers the leg reads), inlinebye.go (the peer's BYE
// of a parked leg, run on the reader),
// uacwait.go (the INVITE's wait for its final response, our CANCEL),
// late2xx.go (2xx to INVITEs we gave up: ACK and BYE), uas.go and
// uasinvite.go (the inbound INVITE's responses, without sipgo's copy of
// the INVITE), dialog.go (confirmed phase), dialogstate.go (what a confirmed
// dialog keeps), ackwrite.go (the ACK of a 2xx on UDP, written to the
// listener without sipgo's transport layer), register.go and registration.go
// (accounts and the REGISTER loop), flow.go (RFC 5626 flows: in-dialog
// requests over the connection a dialog came in on), registrar.go (REGISTER
// from InboundUsers), fork.go (calls to registered users, on gateway.Fork), bindingwatch.go
// (which users have bindings here, for a cluster's registry), sdp.go, reason.go (RFC 3326),
// sanitize.go, metrics.go, status.go, mtu.go (sipgo's UDP size limit), timerm.go (sipgo's Timer M),
// timerl.go (sipgo's Timer L and Timer J, and the retransmitted INVITEs the
// adapter recognises instead), memo.go (two-generation memos: genMemo, and genSet of
// 64-bit hashes for the per-call memos),
// overload.go (503 for INVITEs shed by the gateway's admission), stale.go
// and stale_linux.go (INVITEs that waited too long in the UDP receive
// queue are dropped unread, new ones shed with a stateless 503),
// queuefill_linux.go (new calls shed while that queue is over half full),
// tag.go (our From and To tags: lowercase hex), lookup.go (questions
// about headers a request has not got, without sipgo's allocation),
// udpsource.go (each datagram's source address, its string made once per
// peer), retrans.go
// (the Call-IDs of INVITEs passed to sipgo or shed: retransmissions of the
// first are not shed, of the second get the same 503), udpsock.go and udpsock_linux.go (the UDP
// listener's buffer sizes, forced past the kernel's cap where allowed, and
// its reader count), anchor.go (media through rtpengine).
// Package siptest holds a WebRTC-capable SIP endpoint, a plain-RTP phone
// (PlainUA) and a browser-like stream UA (WS/TCP/TLS, Contact host
// "<random>.invalid") for tests;
// internal/loadgw is the load harness of README.md.
package sip
