// Package gateway is the neutral core of sigbridge: the call model, the
// per-call bridge and the router. It knows nothing of WebSocket, SIP or XML.
//
// # The model
//
// Every call is two legs joined by one bridge (type Call). A leg is one side of
// a call in one dialect (a browser connection, a SIP dialog, a Jingle session);
// its adapter turns the dialect into a small set of neutral events:
//
//	Offer{SDP}, Answer{SDP}         SDP parsed with pion/sdp: the common currency
//	Candidate{Mid, MLineIndex, Line} one trickled ICE candidate, raw line kept
//	EndOfCandidates{Mid}            the sender finished gathering
//	Ringing{Code}                   the callee is alerted (180, 183)
//	Hangup{Reason}                  the call is over for this leg
//	Failure{Code, Reason, Ref}      the bridge refused one message (the call goes on)
//	DTMF{Digits, Duration}          out-of-band digits, relayed once answered
//
// Adapters post events with Call.Post; the bridge hands them to the other leg
// with Leg.Deliver. One goroutine at a time owns all of the call's state, so
// no locks guard it: whoever posts to a call whose inbox (inbox.go) nobody
// handles claims it. A poster that holds no lock (Call.PostInline, used by
// a WebSocket connection's reader, a SIP outbound leg's goroutine for the
// callee's ringing and answer, and the call's timers;
// PlaceRequest.Inline for the first offer) handles the event itself, on its
// own goroutine, and hands what others queued meanwhile to a goroutine;
// any other poster starts a goroutine, which ends once the inbox is empty,
// or, while the call is in setup, waits for the next event without
// holding the claim (a held call has none). Deliver is only ever called by
// the claimant and must not block (legs queue and write on their own
// goroutine). A leg that is
// also a Batcher gets events the bridge delivers back to back (an SDP, the
// candidates held for it and end-of-candidates) between BeginBatch and
// EndBatch, so that it can write them at once (trickle_bridge.go).
//
// # Capabilities and half trickle
//
// Each leg declares Caps: whether it accepts trickled candidates and whether it
// can resolve mDNS ".local" host candidates. When an SDP travels from a leg
// that trickles to one that does not (a browser toward SIP), the bridge holds
// the SDP, folds the trickled candidates into their m-lines, adds
// a=end-of-candidates and sends it when the sender signals the end of
// gathering or the gather timer fires (Config.GatherQuiet after the last
// candidate, at most Config.GatherMax after the SDP). Toward a trickling leg a
// complete SDP passes untouched and is followed by EndOfCandidates. mDNS
// candidates are dropped toward legs that cannot resolve them, both inside SDPs
// and when trickled.
//
// The bridge never changes an SDP a leg posted: forwardSDP hands the other
// leg a copy (CloneSDP), which the bridge and that leg may change. A leg
// that only reads the SDPs delivered to it (Caps.ReadsSDP: the browser leg,
// which renders them in Deliver) gets the posted SDP itself when the bridge
// has nothing to change in it (it trickles, and resolves mDNS or there is
// no mDNS candidate): no copy for browser → browser SDPs, the SIP answer
// of a browser → SIP call or the SIP offer of a SIP → browser call. A leg
// that gives up the SDPs it posts (Caps.GivesSDP: the browser leg) has its
// SDP changed in place for the other leg (the browser's offer toward SIP,
// gathered; its answer in a SIP → browser call), except toward a fork,
// whose branches were dialed with the first offer. The copy
// takes a fixed number of allocations (its m-lines' attributes and formats
// share backing arrays, each slice capped so that appending to one cannot
// write into the next), and MarshalSDP's string shares the marshalled bytes.
// Each b2s call parses two SDPs (offer, answer), clones none (one toward a
// fork) and marshals
// three (INVITE body, the answer's refresh digest, video-answer);
// docs/PERFORMANCE.md has the figures. ParseSDP parses what browsers and
// SIP gear send with internal/fastsdp, which makes of it exactly what
// pion/sdp would, in one pass over its lines; pion parses the rest and
// decides what is refused. ParseSDP copies its text once (it may be a view
// of a reused buffer), unless it rewrote it (LF line ends, a late c=):
// the rewritten text is its own. ParseSDPString takes a string its caller
// owns and never writes again, and parses it without the copy.
//
// # Teardown
//
// A Hangup from either leg, a failed delivery, a ring timeout (no answer
// within Config.RingTimeout) or a drain ends the call: the other leg (or both)
// receives a Hangup with a Reason, and the call is removed. No call outlives
// its legs.
//
// # Relay calls
//
// On a cluster (package cluster) a call whose callee is on another node is
// bridged on the caller's node; the callee's node gives the callee leg a
// relay call (NewRelayCall): a Call without a bridge whose Post hands the
// leg's events to a Relay, which carries them to the owner's bridge. The
// relay calls the leg's Deliver from one goroutine, as a bridge does, and
// EndRelay when the call is over. Relay calls count in no Gateway.
//
// # Forks
//
// Fork (fork.go) rings a callee in several places at once (a SIP user registered at
// several cluster nodes): each Branch's Dialer gets a relay call of the
// fork's, and the call sees one leg. Until an answer the bridge's events go
// to every live branch; the first Answer wins, the others get a Hangup with
// ReasonAnsweredElsewhere, and a late answer is hung up the same way. A
// failed dial, a branch's Hangup or a failed Deliver is one failed branch;
// when all failed the call gets BestFailure (RFC 3261 §16.7). The fork's
// Caps are what every branch can do. The call's limits and its caller's
// call slot are taken once, by Place. A leg that stands for a leg on
// another node says so (RemoteLeg): sigbridge_calls_total has the label
// remote, and the call's end record the field callee_node.
//
// # Metrics
//
// Metrics (metrics.go) counts connections, messages, errors, ended and
// shed calls, and observes each answered call's setup time
// (sigbridge_call_setup_seconds: the first offer reaching the gateway, when
// the Call is created, to the first answer reaching the call's goroutine,
// by caller and callee leg type), the gateway's own share of the setup
// latency a client measures.
//
// # Routing
//
// A Router resolves a target string ("alice", "sip:bob@pbx.example.org",
// "xmpp:juliet@example.org", "+15551234", "tel:+15551234") to the Dialer of
// the adapter that reaches it. Unknown, offline and forbidden targets come back
// as errors that carry their SIP status and Jingle condition (see Status), so
// every dialect can say why a call failed.
package gateway
