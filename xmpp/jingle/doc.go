// Package jingle converts between SDP (as parsed by github.com/pion/sdp/v3)
// and XMPP Jingle (XEP-0166 with the RTP, ICE-UDP and DTLS extensions), and
// parses Jingle XML from untrusted peers safely. It does no I/O and keeps no
// global state; it imports only the standard library and pion/sdp.
//
// The sigbridge XMPP adapter uses it to turn a browser or SIP offer into a
// session-initiate, a session-accept into an SDP answer, and so on. The rules
// it implements are those of docs/protocols.md §2 (namespaces, mapping table,
// candidate syntax and the lossy cases); this comment is a summary.
//
// # Types
//
// Jingle is the <jingle xmlns='urn:xmpp:jingle:1'> element, marshallable
// with encoding/xml. It holds Contents (each with an RTP Description and an
// ICE-UDP Transport), an optional BUNDLE Group, a Reason (session-terminate)
// and an Info payload (session-info: ringing, hold, unhold, mute, unmute,
// active; any other payload is named in UnknownInfo). The sub-elements follow XEP-0167 (payload types, parameters,
// bandwidth, rtcp-mux, SDES encryption), XEP-0176 (transport, candidates),
// XEP-0320 (fingerprint hash/setup), XEP-0338 (group), XEP-0339 (sources,
// ssrc-groups), XEP-0293 (rtcp-fb, rtcp-fb-trr-int), XEP-0294 (rtp-hdrext,
// extmap-allow-mixed) and XEP-0343 (sctpmap with the attribute number).
// Elements we do not model (StanzaJS <stream/>, <rtcp-reduced-size/>,
// Jitsi's rid-group, cryptex, ...) are tolerated and ignored on input.
//
// # Parsing untrusted XML
//
// Parse (or ParseReader) reads one <jingle/> element and rejects, with
// errors wrapping ErrBadXML and a specific sentinel: input over 256 KiB
// (ErrTooLarge), any DTD or <!...> directive (ErrDTD, so no XXE and no
// billion laughs), processing instructions and comments (ErrProcInst; an XML
// declaration is allowed as the first token), nesting deeper than 64
// (ErrTooDeep) and more than 64 attributes on an element (ErrTooManyAttrs).
// Error texts name the element path at fault, e.g.
// "in <jingle/content/description/payload-type>". Candidates are validated
// while parsing (ErrBadCandidate).
//
// # Conversion
//
// SDPToJingle(sd, author, opt) and JingleToSDP(j, author, opt) take the
// Role of the party that wrote the SDP or sent the stanza, because an SDP
// direction speaks for its author while Jingle senders are absolute:
//
//	author      sendrecv  sendonly   recvonly   inactive
//	initiator   both      initiator  responder  none
//	responder   both      responder  initiator  none
//
// ("both" is not written.) A MidTable, kept by the caller for the whole
// session, maps content names to mids, remembers the m-line order, rejected
// (port 0) slots, the first creator of each content and raw extmap
// direction suffixes. With it, an answer that lacks an offered content
// still gets that m-line back in place with port 0, and content names are
// never renamed. A name that is not an SDP token of at most 16 bytes gets a
// generated mid ("0", "1", ...) and the group is rewritten with mids.
//
// SDP to Jingle, per m-line (= <content name=MID>):
//
//	m=<media> <port> <proto> <fmts>   <description media>, payload types in m-line order
//	a=mid, direction                  content name (via MidTable), senders (table above)
//	a=rtpmap                          <payload-type id name clockrate channels?>; a
//	                                  missing rtpmap/clockrate of a static PT is filled
//	                                  from RFC 3551
//	a=fmtp k=v;tok                    <parameter name value/>, in order; tok -> name=''
//	a=ptime, a=maxptime               attribute on every payload type
//	b=<type>:<n>                      <bandwidth type>n</bandwidth>
//	a=rtcp-fb:<pt>|* (trr-int)        <rtcp-fb> in the PT | in the description (<rtcp-fb-trr-int>)
//	a=extmap:<id>[/<dir>] <uri>       <rtp-hdrext id uri senders?>
//	a=extmap-allow-mixed              <extmap-allow-mixed/> (session level: every content)
//	a=rtcp-mux                        <rtcp-mux/> in the description
//	a=ssrc, a=ssrc-group, a=msid      <source ssrc><parameter/>, <ssrc-group>; a=msid folded
//	                                  into every source as parameter msid
//	a=crypto                          <encryption><crypto tag crypto-suite key-params/>
//	a=ice-ufrag/pwd, a=candidate      <transport ufrag pwd>, <candidate/> (see below)
//	a=fingerprint + a=setup           <fingerprint hash setup>HEX</fingerprint> per line,
//	                                  sha-256 first; session-level values go into every content
//	m=application UDP/DTLS/SCTP       no description; <sctpmap number protocol/> in the transport
//	a=group:BUNDLE                    <group semantics='BUNDLE'> with content names
//
// Jingle to SDP writes v=0, the caller's o= (JingleToSDPOptions.Origin: each
// leg owns its origin), s=-, t=0 0, a=group, a=extmap-allow-mixed (session
// level when every RTP content has it), a=msid-semantic: WMS *, and per
// m-line port 9, a proto derived from the content (fingerprint ->
// UDP/TLS/RTP/SAVPF, crypto -> RTP/SAVP(F), rtcp-fb -> RTP/AVPF, else
// RTP/AVP), c=IN IP4 0.0.0.0, the candidates, a=ice-ufrag/pwd,
// a=ice-options:trickle, a=fingerprint + a=setup, a=mid, a=extmap, the
// direction, a=msid (from the first source), a=rtcp-mux, an a=rtpmap per
// payload type, a=rtcp-fb, a=fmtp, a=ptime/maxptime, a=crypto, a=ssrc-group
// and a=ssrc; a data channel gets a=sctp-port and a=max-message-size:262144.
//
// Candidates (CandidateFromSDP, Candidate.SDPLine): "candidate:F C proto
// prio addr port typ T [raddr A rport P] *(ext val)" maps to XEP-0176
// foundation, component, protocol (lower case, udp or tcp), priority, ip,
// port, type (host, srflx, prflx or relay only), rel-addr, rel-port and
// generation (default 0). The id has no SDP form: a stable letter-first id
// is generated. tcptype has no XEP-0176 form and is written as a
// non-standard tcptype attribute, which XEP-0176 parsers ignore. The ufrag
// extension must equal the transport ufrag (stale candidates are dropped).
// Lines are written back as "candidate:F C proto prio ip port typ T [raddr
// A rport P] [tcptype X] generation G ufrag U". DropMDNS drops ".local"
// host candidates in both directions.
//
// Limits (protocols.md §6.1): at most 32 m-lines or contents, 128 formats
// per m-line, 64 candidates per m-line and 4 KiB per SDP line (ErrLimit).
// Values written into SDP may not contain control characters (no CR/LF
// injection from XML).
//
// # Losses
//
// SDP -> Jingle -> SDP (tested against every Chromium fixture, see
// golden_test.go; every item is checked at once in losses_test.go) loses
// or rewrites:
//
//   - session lines: v (always 0), o= (the Origin option), s= (-), t= (0 0),
//     i= u= e= p= z= k= r=, session-level c= and b=;
//   - a=msid-semantic (always "WMS *"), a=ice-lite, a=ice-options other than
//     trickle (a=ice-options:trickle is written on every m-line with ICE
//     credentials);
//   - the m-line port (9) and proto (derived as above), media-level c=
//     (always IN IP4 0.0.0.0);
//   - a=rtcp, a=rtcp-rsize, a=rtcp-xr, a=end-of-candidates, a=rid,
//     a=simulcast, a=bundle-only, a=label and every other attribute not in
//     the table above (vendor attributes included);
//   - candidate extensions other than raddr/rport/tcptype/generation/ufrag
//     (network-id, network-cost); candidate lines gain "ufrag <ice-ufrag>";
//     candidates with another ufrag (stale) are dropped, so are mDNS ones
//     with DropMDNS;
//   - session-level a=fingerprint, a=setup, a=ice-ufrag, a=ice-pwd and
//     direction come back on every m-line; a=extmap-allow-mixed on every
//     RTP m-line comes back once at session level;
//   - groups other than the first BUNDLE group (e.g. LS);
//   - a missing a=setup becomes actpass (initiator) or active (responder);
//     setup values are not checked (holdconn passes through unmapped);
//     several fingerprints are reordered sha-256 first;
//   - a missing direction comes back as explicit a=sendrecv (none on a data
//     channel m-line); a=rtcp-mux is always written on RTP m-lines;
//   - per-payload a=ptime/maxptime collapse into one media-level line
//     (the largest value);
//   - static payload types without a=rtpmap gain one (RFC 3551); a dynamic
//     payload type without a=rtpmap stays without one;
//   - a=fmtp whitespace is normalised and empty ";;" items dropped;
//   - a=msid is rebuilt from the first source's msid parameter; without
//     a=ssrc it is lost (the far end gets no stream ids); a source without
//     its own msid gains the media-level one (extra a=ssrc:N msid: lines);
//   - an extmap /sendrecv suffix is kept only through the MidTable (raw
//     suffixes are re-emitted when the senders value still matches);
//   - port-0 m-lines (not bundle-only) and m-lines Jingle cannot express
//     (m=image, m=text, non-SCTP application) become rejected slots: no
//     content, and back as port 0 with media, one format, c= and a=mid only;
//   - an m-line without a=mid gets its index as mid;
//   - data channels: legacy a=sctpmap / DTLS/SCTP <port> forms come back as
//     UDP/DTLS/SCTP webrtc-datachannel + a=sctp-port; a=max-message-size is
//     always 262144; the sctpmap streams count is lost.
//
// Jingle -> SDP -> Jingle (tested with Conversations, Dino and Jitsi shaped
// stanzas, see clients_test.go) loses or rewrites:
//
//   - everything that is not a description: action, sid, initiator,
//     responder, reason, session-info payload (and JMI, which lives
//     elsewhere);
//   - content creator (restored from the MidTable, else the author's role)
//     and disposition;
//   - candidate id (regenerated, stable), network and remote-candidate;
//   - <rtcp-mux/> in the transport (old Jitsi) moves to the description, and
//     every RTP description gains <rtcp-mux/>;
//   - senders='rejected' contents (and offered contents missing from an
//     answer) are left out (they are port-0 slots in SDP);
//   - group type= becomes semantics=; group names without a content are
//     dropped;
//   - a parameter without name and one with name="" are the same;
//   - a static payload type without name or clockrate gains them (RFC 3551);
//   - different ptime/maxptime per payload type collapse to the largest;
//   - the legacy description ssrc attribute, encryption required=,
//     fingerprint attributes other than hash/setup (Jitsi cryptex,
//     required), and every tolerated foreign element;
//   - only the first fingerprint's setup survives, applied to all;
//   - the StanzaJS data channel <description/> is not written back (the
//     content has only a transport with sctpmap); sctpmap streams and the
//     legacy port= attribute become number=; the protocol is always
//     webrtc-datachannel;
//   - a source without msid gains the msid of the first source; a source
//     without any parameter (Dino) has no SDP form and is lost;
//   - senders='both' is written as no senders attribute (the same meaning);
//     a data channel content never carries senders.
package jingle
