package xmpp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// Mid-call renegotiation (protocols.md §2.2, §2.5 h, §5.3), both ways.
//
// Gateway -> Jingle: a re-offer the bridge delivers to an active session is
// diffed against the other leg's previous SDP (lastSent):
//
//   - a direction-only change (hold, resume) or no change is answered at
//     once from the cache (the peer's SDP, directions per RFC 3264 §6.1,
//     formats restricted to those negotiated, the peer's DTLS role, o=
//     bumped when it changed); the peer is told with session-info
//     <hold/>/<unhold/> and content-modify (new senders);
//   - new ICE credentials (restart) go to the peer as a transport-info with
//     the new ufrag/pwd and no candidates (Conversations' restart offer);
//     the peer's reply, a transport-info with its own new credentials and
//     candidates, becomes the Answer;
//   - appended m-lines go out as content-add; content-accept becomes the
//     Answer, content-reject a Failure 488;
//   - anything else (removed or re-enabled streams, other media, a new
//     DTLS fingerprint, codecs outside the negotiated set, a restart and
//     new streams at once) is refused with Failure 488: the bridge
//     withdraws the offer and the call goes on.
//
// Every such re-offer gets an Answer or a Failure within the IQ timeout.
//
// Jingle -> gateway: session-info <hold/>/<unhold/> and content-modify
// change what the peer wants (peerBase, peerHeld); a transport-info with
// new credentials (an ICE restart) changes peerSDP. sync then re-offers to
// the other leg, built from the peer's SDP (o= bumped, the current DTLS
// role). The answer is absorbed: the peer hears nothing unless the
// negotiated senders differ from what it asked (content-modify), or the
// exchange restarted ICE (the answer's credentials and candidates go out as
// transport-info).
//
// Crossing changes: the bridge runs one exchange at a time (glare is 409
// there). Within the Jingle session the initiator wins (§2.2): a crossing
// restart offer or content-add from the peer gets conflict + <tie-break/>
// when we are the initiator (route.go); as responder we withdraw ours
// (Failure 491 to the bridge) and take the peer's. session-info and
// content-modify are not offers: they are applied after the exchange in
// flight.

// renegKind is the exchange in flight.
type renegKind int32

const (
	rnNone          renegKind = iota
	rnOutRestart              // a bridge re-offer: restart transport-info sent, waiting for the peer's credentials
	rnOutContentAdd           // a bridge re-offer: content-add sent, waiting for content-accept/reject
	rnIn                      // a change of the peer: Offer posted, waiting for the bridge's Answer/Failure
)

func (k renegKind) String() string {
	return [...]string{"none", "out-restart", "out-content-add", "in"}[k]
}

// reneg is the exchange in flight (owned by the session's goroutine).
type reneg struct {
	kind    renegKind
	offer   *sdp.SessionDescription // the re-offer (from the bridge, or ours for rnIn)
	added   []string                // rnOutContentAdd: the new contents
	restart bool                    // rnIn: the offer restarts ICE
	wants   []string                // rnIn: the peer's wants the offer expresses
}

// Renegotiation events.
type (
	evRenegTimer struct{ gen int }
	evRenegIQ    struct {
		gen int
		res iqResult
	}
	evSyncTimer struct{}
)

// errNotAnswerable marks a re-offer that the cache cannot answer.
var errNotAnswerable = errors.New("re-offer not expressible in Jingle")

func refusal(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNotAnswerable, fmt.Sprintf(format, args...))
}

// failure488 is the Failure for a re-offer we cannot take.
func failure488(text string) gateway.Failure {
	return gateway.Failure{Code: 488, Reason: gateway.CondIncompatibleParameters, Text: text, Ref: "offer"}
}

func failure491(text string) gateway.Failure {
	return gateway.Failure{Code: 491, Reason: gateway.CondGeneralError, Text: text, Ref: "offer"}
}

// ---- state set up when the session becomes active ----

// setPeerSDP records the first SDP built from the peer's Jingle (its
// session-initiate or session-accept).
func (s *session) setPeerSDP(sd *sdp.SessionDescription) {
	s.lastRecv = sd
	s.peerSDP = gateway.CloneSDP(sd)
	s.publishPeerUfrag()
}

// activate records what the first exchange negotiated: the peer's wants,
// the senders in force and the DTLS roles.
func (s *session) activate() {
	if s.peerSDP == nil || s.lastSent == nil {
		return
	}
	n := len(s.peerSDP.MediaDescriptions)
	s.peerBase, s.senders = make([]string, n), make([]jingle.Senders, n)
	for i := range n {
		s.peerBase[i] = mediaDir(s.peerSDP, i)
	}
	s.wantsSent = slices.Clone(s.peerBase)
	s.peerSetup = mediaAttr(s.peerSDP, 0, "setup")
	if s.role == jingle.Responder { // the peer offered (actpass); the bridge's answer decided
		s.peerSetup = otherSetup(mediaAttr(s.lastSent, 0, "setup"))
	}
	s.updateSenders(s.answerOfExchange(), nil, s.answerAuthor())
}

// answerOfExchange is the answer of the first exchange; answerAuthor its
// author.
func (s *session) answerOfExchange() *sdp.SessionDescription {
	if s.role == jingle.Responder {
		return s.lastSent
	}
	return s.peerSDP
}

func (s *session) answerAuthor() jingle.Role {
	if s.role == jingle.Responder {
		return s.role
	}
	return s.role.Other()
}

// updateSenders sets the senders in force from an answer by author to
// offer (nil: take the answer as is) and returns the contents whose
// senders changed. An answer direction the offer does not allow (pion
// answers sendonly with sendrecv) is read as what can flow (RFC 3264 §6.1).
func (s *session) updateSenders(ans, offer *sdp.SessionDescription, author jingle.Role) []int {
	var changed []int
	for i := range ans.MediaDescriptions {
		if i >= len(s.senders) {
			s.senders = append(s.senders, jingle.SendersBoth)
		}
		if !isLive(ans.MediaDescriptions[i]) {
			continue
		}
		d := mediaDir(ans, i)
		if offer != nil && i < len(offer.MediaDescriptions) {
			d = answerDir(mediaDir(offer, i), d)
		}
		v := jingle.SendersFromDirection(d, author)
		if v != s.senders[i] {
			s.senders[i] = v
			changed = append(changed, i)
		}
	}
	return changed
}

// peerWants is the direction the peer wants on m-line i (its view).
func (s *session) peerWants(i int) string {
	d := dirSendRecv
	if i < len(s.peerBase) {
		d = s.peerBase[i]
	}
	if s.peerHeld {
		d = holdDir(d)
	}
	return d
}

func (s *session) allWants() []string {
	out := make([]string, len(s.peerSDP.MediaDescriptions))
	for i := range out {
		out[i] = s.peerWants(i)
	}
	return out
}

// publishPeerUfrag lets the stanza handler see the peer's ICE ufrag (for
// the tie-break of crossing restarts).
func (s *session) publishPeerUfrag() {
	if s.peerSDP == nil || len(s.peerSDP.MediaDescriptions) == 0 {
		return
	}
	u, _ := creds(s.peerSDP, 0)
	s.peerUfrag.Store(&u)
}

// ---- gateway -> Jingle ----

// offerDiff is what a bridge re-offer changes.
type offerDiff struct {
	restart bool
	added   []int // indexes of appended m-lines
}

// onReOffer handles an Offer the bridge delivered to an active session.
func (s *session) onReOffer(sd *sdp.SessionDescription) {
	switch s.rn.kind {
	case rnIn:
		// Crossing: the bridge delivered this offer before ours reached
		// it, so ours will come back refused (409). Take this one; sync
		// offers ours again afterwards.
		s.log.Info("re-offers crossed; the bridge's goes first")
		s.expectGlare++
		s.endReneg()
	case rnOutRestart, rnOutContentAdd: // the bridge runs one exchange at a time
		s.postCall(failure491("an exchange is in progress"))
		return
	}
	d, err := s.diffOffer(sd)
	if err != nil {
		s.refuseReOffer(err)
		return
	}
	switch {
	case d.restart && len(d.added) > 0:
		s.refuseReOffer(refusal("ICE restart and new streams at once"))
	case d.restart:
		s.startOutRestart(sd)
	case len(d.added) > 0:
		s.startContentAdd(sd, d.added)
	default:
		s.answerFromCache(sd)
	}
}

func (s *session) refuseReOffer(err error) {
	s.log.Info("re-offer refused", "err", err)
	text := "re-offer not supported toward XMPP"
	if errors.Is(err, errNotAnswerable) {
		text = err.Error()
	}
	s.postCall(failure488(text))
	s.sync()
}

// diffOffer compares a re-offer with the other leg's previous SDP.
func (s *session) diffOffer(sd *sdp.SessionDescription) (offerDiff, error) {
	var d offerDiff
	prev := s.lastSent
	if prev == nil || s.peerSDP == nil {
		return d, refusal("no session to renegotiate")
	}
	n := len(prev.MediaDescriptions)
	if len(sd.MediaDescriptions) < n {
		return d, refusal("m-lines removed")
	}
	if len(s.peerSDP.MediaDescriptions) != n {
		return d, refusal("m-line count mismatch")
	}
	for i := range n {
		pm, om, peer := prev.MediaDescriptions[i], sd.MediaDescriptions[i], s.peerSDP.MediaDescriptions[i]
		if pm.MediaName.Media != om.MediaName.Media || mid(pm) != mid(om) {
			return d, refusal("m-line %d changed media or mid", i)
		}
		live := isLive(pm) && isLive(peer)
		switch {
		case live && !isLive(om):
			return d, refusal("stream %d removed", i)
		case !live && isLive(om):
			return d, refusal("stream %d re-enabled", i)
		case !live:
			continue
		}
		if !slices.Equal(fingerprints(prev, i), fingerprints(sd, i)) {
			return d, refusal("new DTLS fingerprint")
		}
		u0, p0 := creds(prev, i)
		u1, p1 := creds(sd, i)
		d.restart = d.restart || u0 != u1 || p0 != p1
		neg := commonFormats(peer.MediaName.Formats, pm.MediaName.Formats)
		if len(neg) == 0 || len(commonFormats(neg, om.MediaName.Formats)) != len(neg) {
			return d, refusal("codecs outside the negotiated set on m-line %d", i)
		}
	}
	for i := n; i < len(sd.MediaDescriptions); i++ {
		m := sd.MediaDescriptions[i]
		if (m.MediaName.Media != "audio" && m.MediaName.Media != "video") || !isLive(m) {
			return d, refusal("m-line %d cannot be added", i)
		}
		d.added = append(d.added, i)
	}
	return d, nil
}

// cachedAnswer answers offer from the peer's SDP: formats restricted to
// those of prev (the negotiated set) and the offer, directions per RFC 3264
// §6.1 from what the peer wants, the peer's DTLS role, the offer's BUNDLE
// group. The caller sets o=.
func (s *session) cachedAnswer(offer, prev *sdp.SessionDescription) (*sdp.SessionDescription, error) {
	if len(offer.MediaDescriptions) != len(s.peerSDP.MediaDescriptions) {
		return nil, refusal("m-line count mismatch")
	}
	a := gateway.CloneSDP(s.peerSDP)
	dropSessionDir(a)
	for i, m := range a.MediaDescriptions {
		om := offer.MediaDescriptions[i]
		if !isLive(m) {
			continue
		}
		if !isLive(om) {
			return nil, refusal("stream %d rejected by the offerer", i)
		}
		keep := commonFormats(m.MediaName.Formats, om.MediaName.Formats)
		if prev != nil && i < len(prev.MediaDescriptions) && isLive(prev.MediaDescriptions[i]) {
			keep = commonFormats(keep, prev.MediaDescriptions[i].MediaName.Formats)
		}
		if len(keep) == 0 {
			return nil, refusal("no common codec on m-line %d", i)
		}
		keepFormats(m, keep)
		if m.MediaName.Media != "application" {
			setMediaDir(m, answerDir(mediaDir(offer, i), s.peerWants(i)))
		}
	}
	setSetup(a, s.peerSetup)
	setBundle(a, offer)
	return a, nil
}

// stamp gives an SDP for the bridge its o=: the last one when nothing
// changed, else the next version (RFC 3264 §8).
func (s *session) stamp(sd *sdp.SessionDescription) {
	if s.lastRecv != nil && sameSDP(sd, s.lastRecv) {
		sd.Origin = s.lastRecv.Origin
		return
	}
	sd.Origin = s.nextOrigin()
}

// answerFromCache answers a direction-only (or empty) re-offer at once and
// tells the peer what changed.
func (s *session) answerFromCache(offer *sdp.SessionDescription) {
	ans, err := s.cachedAnswer(offer, s.lastSent)
	if err != nil {
		s.refuseReOffer(err)
		return
	}
	s.stamp(ans)
	s.lastSent, s.lastRecv, s.wantsSent = offer, ans, s.allWants()
	s.sentChanged()
	s.postCall(gateway.Answer{SDP: ans})
	s.postCall(gateway.EndOfCandidates{}) // same ICE generation: nothing more will come for it
	s.log.Info("re-offer answered from cache")
	s.informPeer(offer, ans)
	s.sync()
}

// informPeer tells the peer about a bridge re-offer it did not take part
// in: <hold/> when every stream of the offer stopped receiving, <unhold/>
// when that ends, and content-modify with the senders now in force.
func (s *session) informPeer(offer, ans *sdp.SessionDescription) {
	held, live := true, false
	for i, m := range offer.MediaDescriptions {
		if !isLive(m) || m.MediaName.Media == "application" {
			continue
		}
		live = true
		if _, recv := dirBits(mediaDir(offer, i)); recv {
			held = false
		}
	}
	held = held && live
	switch {
	case held && !s.remoteHeld:
		s.remoteHeld = true
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionSessionInfo, Info: jingle.NewInfo(jingle.InfoHold)})
	case !held && s.remoteHeld:
		s.remoteHeld = false
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionSessionInfo, Info: jingle.NewInfo(jingle.InfoUnhold)})
	}
	s.sendContentModify(s.updateSenders(ans, nil, s.role.Other()))
}

// sendContentModify sends the senders in force of contents idx.
func (s *session) sendContentModify(idx []int) {
	var cs []jingle.Content
	for _, i := range idx {
		name, ok := s.mids.NameAt(i)
		if !ok {
			continue
		}
		cs = append(cs, jingle.Content{Creator: s.creatorOf(name), Name: name, Senders: s.senders[i]})
	}
	if len(cs) > 0 {
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionContentModify, Contents: cs})
	}
}

// startOutRestart sends the bridge's new ICE credentials to the peer as a
// restart offer (transport-info with ufrag/pwd, no candidates). The
// candidates of the new generation wait until the peer acknowledged it.
func (s *session) startOutRestart(offer *sdp.SessionDescription) {
	var cs []jingle.Content
	for i, m := range offer.MediaDescriptions {
		name, ok := s.mids.NameAt(i)
		if !ok || !isLive(m) {
			continue
		}
		u, p := creds(offer, i)
		cs = append(cs, jingle.Content{Creator: s.creatorOf(name), Name: name, Transport: &jingle.Transport{Ufrag: u, Pwd: p}})
	}
	if len(cs) == 0 {
		s.refuseReOffer(refusal("nothing to restart"))
		return
	}
	s.holdCands = true
	s.prevSent, s.lastSent = s.lastSent, offer
	s.sentChanged() // early candidates of the new generation: held until the ack
	s.beginReneg(reneg{kind: rnOutRestart, offer: offer})
	s.log.Info("ICE restart toward the peer")
	s.sendRenegIQ(&jingle.Jingle{Action: jingle.ActionTransportInfo, Contents: cs})
}

// startContentAdd offers the appended m-lines to the peer as content-add.
func (s *session) startContentAdd(offer *sdp.SessionDescription, added []int) {
	j, err := jingle.SDPToJingle(offer, s.role, jingle.SDPToJingleOptions{Mids: s.mids, DropMDNS: true})
	if err != nil {
		s.refuseReOffer(refusal("new stream not convertible: %v", err))
		return
	}
	var cs []jingle.Content
	var names []string
	for _, i := range added {
		name, ok := s.mids.NameAt(i)
		c := j.FindContent(name)
		if !ok || c == nil {
			s.refuseReOffer(refusal("new stream %d not convertible", i))
			return
		}
		cs = append(cs, *c)
		names = append(names, name)
	}
	s.prevSent, s.lastSent = s.lastSent, offer
	s.sentChanged()
	s.beginReneg(reneg{kind: rnOutContentAdd, offer: offer, added: names})
	s.log.Info("content-add toward the peer", "contents", strings.Join(names, ","))
	s.sendRenegIQ(&jingle.Jingle{Action: jingle.ActionContentAdd, Contents: cs, Group: j.Group})
}

// onRenegIQ handles the answer to our restart transport-info or content-add.
func (s *session) onRenegIQ(r iqResult) {
	if r.ok {
		if s.rn.kind == rnOutRestart {
			s.releaseRestartCandidates()
		}
		return
	}
	s.log.Info("peer refused the renegotiation", "kind", s.rn.kind.String(), "cond", r.cond, "app", r.app)
	if r.app == "tie-break" {
		s.abortOut(failure491("the XMPP peer won a crossing change"))
		return
	}
	s.abortOut(failure488("the XMPP peer refused the change"))
}

// releaseRestartCandidates sends the candidates of the new generation: those
// inside the re-offer, then those trickled since.
func (s *session) releaseRestartCandidates() {
	s.holdCands = false
	offer := s.rn.offer
	for i, m := range offer.MediaDescriptions {
		for _, v := range candidateValues(m) {
			s.sendCandidate(gateway.Candidate{Mid: mid(m), MLineIndex: i, Line: "candidate:" + v})
		}
	}
	held := s.held
	s.held = nil
	for _, c := range held {
		s.sendCandidate(c)
	}
}

// abortOut ends a bridge re-offer in flight with f and restores the state
// before it.
func (s *session) abortOut(f gateway.Failure) {
	if s.rn.kind != rnOutRestart && s.rn.kind != rnOutContentAdd {
		return
	}
	s.lastSent = s.prevSent
	s.holdCands, s.held = false, nil
	s.sentChanged()
	s.endReneg()
	s.postCall(f)
	s.sync()
}

// onRestartAnswer turns the peer's reply to our restart (its new
// credentials and first candidates) into the Answer.
func (s *session) onRestartAnswer() {
	if s.holdCands { // the answer came before the acknowledgement
		s.releaseRestartCandidates()
	}
	s.answerOutFromCache("ICE restart answered by the peer")
}

// onContentAccept turns the peer's content-accept into the Answer.
func (s *session) onContentAccept(j *jingle.Jingle) {
	if s.rn.kind != rnOutContentAdd {
		s.log.Info("content-accept without content-add ignored")
		return
	}
	var accepted []jingle.Content
	for _, name := range s.rn.added {
		if c := j.FindContent(name); c != nil && !c.IsRejected() {
			accepted = append(accepted, *c)
		}
	}
	if len(accepted) != len(s.rn.added) {
		s.abortOut(failure488("the XMPP peer did not accept every new stream"))
		return
	}
	if err := s.addAcceptedContents(accepted); err != nil {
		s.abortOut(failure488(err.Error()))
		return
	}
	s.answerOutFromCache("content-add accepted by the peer")
}

// addAcceptedContents extends the peer's SDP with the contents it accepted.
func (s *session) addAcceptedContents(accepted []jingle.Content) error {
	full, err := jingle.SDPToJingle(s.peerSDP, s.role.Other(), jingle.SDPToJingleOptions{Mids: s.mids})
	if err != nil {
		return err
	}
	full.Contents = append(full.Contents, accepted...)
	sd, err := jingle.JingleToSDP(full, s.role.Other(), jingle.JingleToSDPOptions{Mids: s.mids})
	if err != nil {
		return err
	}
	if len(sd.MediaDescriptions) != len(s.rn.offer.MediaDescriptions) {
		return refusal("m-line count mismatch after content-accept")
	}
	s.extendPeerSDP(sd)
	return nil
}

// answerOutFromCache completes our outgoing renegotiation: the answer built
// from the peer's SDP goes to the bridge, and the peer hears of any change.
func (s *session) answerOutFromCache(what string) {
	ans, err := s.cachedAnswer(s.rn.offer, s.prevSent)
	if err != nil {
		s.abortOut(failure488(err.Error()))
		return
	}
	s.stamp(ans)
	offer := s.rn.offer
	s.lastRecv, s.wantsSent = ans, s.allWants()
	s.endReneg()
	s.postCall(gateway.Answer{SDP: ans})
	s.log.Info(what)
	s.informPeer(offer, ans)
	s.sync()
}

// extendPeerSDP appends the m-lines of full beyond the peer's SDP.
func (s *session) extendPeerSDP(full *sdp.SessionDescription) {
	for i := len(s.peerSDP.MediaDescriptions); i < len(full.MediaDescriptions); i++ {
		s.peerSDP.MediaDescriptions = append(s.peerSDP.MediaDescriptions, full.MediaDescriptions[i])
		s.peerBase = append(s.peerBase, mediaDir(full, i))
	}
}

func (s *session) onContentReject() {
	if s.rn.kind == rnOutContentAdd {
		s.abortOut(failure488("the XMPP peer rejected the new stream"))
	}
}

// ---- Jingle -> gateway ----

// onPeerInfo handles session-info from the peer.
func (s *session) onPeerInfo(kind string) {
	switch kind {
	case jingle.InfoHold:
		s.peerHeld = true
	case jingle.InfoUnhold:
		s.peerHeld = false
	default:
		return // active, mute, unmute: no SDP change
	}
	s.log.Info("peer session-info", "info", kind)
	s.sync()
}

// onPeerContentModify applies the senders the peer asks for. A content
// whose senders the peer already asked for changes nothing, nor does one
// whose senders equal those in force (an echo of ours), unless a change
// of the peer is on its way to the other leg: the senders in force are
// then about to be replaced, and asking for them again is a change.
func (s *session) onPeerContentModify(j *jingle.Jingle) {
	if s.peerSDP == nil {
		return
	}
	for _, c := range j.Contents {
		i, ok := s.mids.IndexForName(c.Name)
		if !ok || i >= len(s.peerBase) || i >= len(s.senders) {
			continue
		}
		want := c.Senders
		if want == "" {
			want = jingle.SendersBoth
		}
		dir := jingle.DirectionFromSenders(want, s.role.Other())
		if want == jingle.SendersRejected || dir == s.peerBase[i] ||
			(want == s.senders[i] && s.rn.kind != rnIn) {
			continue
		}
		s.peerBase[i] = dir
		s.log.Info("peer content-modify", "content", c.Name, "senders", string(want))
	}
	s.sync()
}

// restartCreds returns the new ICE credentials in a transport-info (a
// transport whose ufrag differs from the peer's current one), if any, and
// whether the stanza carries candidates.
func (s *session) restartCreds(j *jingle.Jingle) (oldUfrag, ufrag, pwd string, cands bool) {
	for _, c := range j.Contents {
		if c.Transport == nil {
			continue
		}
		if len(c.Transport.Candidates) > 0 {
			cands = true
		}
		i, ok := s.mids.IndexForName(c.Name)
		if !ok || i >= len(s.peerSDP.MediaDescriptions) || c.Transport.Ufrag == "" || c.Transport.Pwd == "" {
			continue
		}
		if u, _ := creds(s.peerSDP, i); u != c.Transport.Ufrag && ufrag == "" {
			oldUfrag, ufrag, pwd = u, c.Transport.Ufrag, c.Transport.Pwd
		}
	}
	return oldUfrag, ufrag, pwd, cands
}

// onPeerCredentials handles new ICE credentials from the peer: the answer
// to our restart, or a restart of its own (protocols.md §2.5 h). It
// reports false when the stanza is to be ignored (a crossing restart we
// win).
func (s *session) onPeerCredentials(oldUfrag, ufrag, pwd string, cands bool) bool {
	switch {
	case s.rn.kind == rnOutRestart && cands:
		s.setPeerCredentials(oldUfrag, ufrag, pwd)
		return true // the caller adds the candidates, then onRestartAnswer
	case s.rn.kind == rnOutRestart && s.role == jingle.Initiator:
		s.log.Info("crossing ICE restart from the peer ignored: the initiator wins")
		return false
	case s.rn.kind == rnOutRestart:
		s.log.Info("crossing ICE restart: the peer (initiator) wins")
		s.abortOut(failure491("the XMPP peer restarted ICE at the same time"))
	}
	s.log.Info("ICE restart from the peer")
	s.setPeerCredentials(oldUfrag, ufrag, pwd)
	return true
}

func (s *session) setPeerCredentials(oldUfrag, ufrag, pwd string) {
	setCredentials(s.peerSDP, oldUfrag, ufrag, pwd)
	s.publishPeerUfrag()
}

// peerOffer builds the re-offer for the other leg from the peer's SDP:
// the directions the peer wants and its current DTLS role.
func (s *session) peerOffer() *sdp.SessionDescription {
	o := gateway.CloneSDP(s.peerSDP)
	dropSessionDir(o)
	for i, m := range o.MediaDescriptions {
		if isLive(m) && m.MediaName.Media != "application" {
			setMediaDir(m, s.peerWants(i))
		}
	}
	setSetup(o, s.peerSetup)
	return o
}

// sync re-offers to the other leg when what the peer wants (directions,
// ICE credentials) differs from what the bridge last heard, and nothing
// else is in flight.
func (s *session) sync() {
	if s.getState() != stActive || s.rn.kind != rnNone || s.call == nil || s.peerSDP == nil || s.lastRecv == nil {
		return
	}
	wants := s.allWants()
	restart := false
	for i := range s.peerSDP.MediaDescriptions {
		if i < len(s.lastRecv.MediaDescriptions) && isLive(s.peerSDP.MediaDescriptions[i]) {
			u0, _ := creds(s.lastRecv, i)
			u1, _ := creds(s.peerSDP, i)
			restart = restart || u0 != u1
		}
	}
	if !restart && slices.Equal(wants, s.wantsSent) {
		return
	}
	offer := s.peerOffer()
	if syncSig(wants, offer) == s.syncBlocked {
		return
	}
	offer.Origin = s.nextOrigin()
	s.beginReneg(reneg{kind: rnIn, offer: offer, restart: restart, wants: wants})
	s.log.Info("re-offer toward the other leg", "restart", restart, "directions", strings.Join(wants, ","))
	s.postCall(gateway.Offer{SDP: offer})
	if !restart {
		s.postCall(gateway.EndOfCandidates{})
	}
}

// onReAnswer absorbs the other leg's answer to our re-offer.
func (s *session) onReAnswer(ans *sdp.SessionDescription) {
	rn := s.rn
	s.endReneg()
	s.lastSent, s.lastRecv, s.wantsSent, s.syncBlocked = ans, rn.offer, rn.wants, ""
	s.sentChanged()
	s.updateSenders(ans, rn.offer, s.role)
	var differ []int // the peer asked for other senders than the answer gives
	for i, m := range ans.MediaDescriptions {
		if i < len(rn.wants) && isLive(m) && m.MediaName.Media != "application" &&
			s.senders[i] != jingle.SendersFromDirection(rn.wants[i], s.role.Other()) {
			differ = append(differ, i)
		}
	}
	s.sendContentModify(differ)
	if rn.restart {
		s.sendAnswerCredentials(ans)
	}
	s.log.Info("re-offer answered by the other leg", "restart", rn.restart)
	s.sync()
}

// sendAnswerCredentials sends the other leg's new ICE credentials with its
// candidates (the peer reads credentials with candidates as the answer to
// its restart). Without candidates in the answer, the first trickled one
// carries the credentials.
func (s *session) sendAnswerCredentials(ans *sdp.SessionDescription) {
	var cs []jingle.Content
	for i, m := range ans.MediaDescriptions {
		name, ok := s.mids.NameAt(i)
		if !ok || !isLive(m) {
			continue
		}
		u, p := creds(ans, i)
		var cands []jingle.Candidate
		for _, v := range candidateValues(m) {
			c, err := jingle.CandidateFromSDP("candidate:" + v)
			if err != nil || c.IsMDNS() || stale(u, c.Ufrag) {
				continue
			}
			c.Ufrag = ""
			cands = append(cands, c)
		}
		if len(cands) > 0 {
			cs = append(cs, jingle.Content{Creator: s.creatorOf(name), Name: name,
				Transport: &jingle.Transport{Ufrag: u, Pwd: p, Candidates: cands}})
		}
	}
	if len(cs) > 0 {
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionTransportInfo, Contents: cs})
	}
}

// onInFailure: the bridge (or the other leg) refused our re-offer.
func (s *session) onInFailure(f gateway.Failure) {
	rn := s.rn
	s.endReneg()
	switch {
	case f.Code == 409 || f.Code == 491:
		d := time.Duration(200+rand.IntN(800)) * time.Millisecond
		s.log.Info("re-offer refused (glare); retrying", "code", f.Code, "in", d)
		time.AfterFunc(d, func() { s.post(evSyncTimer{}) })
	case rn.restart:
		s.log.Info("ICE restart refused by the other leg; ending the call", "code", f.Code)
		s.end(gateway.Reason{Condition: gateway.CondFailedTransport, Code: f.Code, Text: "ICE restart refused"}, true)
	default:
		s.log.Info("re-offer refused by the other leg", "code", f.Code)
		s.syncBlocked = syncSig(rn.wants, rn.offer)
	}
}

// syncSig identifies a re-offer of ours, so that a refused one is not sent
// again until the peer changes something.
func syncSig(wants []string, offer *sdp.SessionDescription) string {
	return strings.Join(wants, ",") + "|" + mediaAttr(offer, 0, "ice-ufrag")
}

// onBridgeFailure handles a Failure delivered by the bridge.
func (s *session) onBridgeFailure(f gateway.Failure) {
	switch {
	case f.Ref == "offer" && s.expectGlare > 0 && (f.Code == 409 || f.Code == 491):
		s.expectGlare--
		s.log.Info("crossed re-offer refused, as expected")
	case f.Ref == "offer" && s.rn.kind == rnIn:
		s.onInFailure(f)
	default:
		s.log.Info("bridge refused a message", "code", f.Code, "reason", f.Reason, "ref", f.Ref)
	}
}

// ---- the exchange in flight ----

func (s *session) beginReneg(r reneg) {
	s.rn = r
	s.rnGen++
	gen := s.rnGen
	if s.rnTimer != nil {
		s.rnTimer.Stop()
	}
	if r.kind == rnOutRestart || r.kind == rnOutContentAdd {
		// Our answer to the bridge must not wait longer than an IQ. An
		// Offer of ours (rnIn) waits for the other leg as long as the
		// bridge does.
		s.rnTimer = time.AfterFunc(s.a.cfg.IQTimeout, func() { s.post(evRenegTimer{gen: gen}) })
		s.outOffer.Store(int32(r.kind))
	}
}

func (s *session) endReneg() {
	s.rn = reneg{}
	s.rnGen++
	if s.rnTimer != nil {
		s.rnTimer.Stop()
	}
	s.outOffer.Store(int32(rnNone))
}

// sendRenegIQ sends the IQ of an outgoing exchange; its answer comes back
// as evRenegIQ for this exchange only.
func (s *session) sendRenegIQ(j *jingle.Jingle) {
	gen := s.rnGen
	s.sendJingleThen(j, func(r iqResult) any { return evRenegIQ{gen: gen, res: r} })
}

// onRenegTimer: the peer did not complete a bridge re-offer within the IQ
// timeout.
func (s *session) onRenegTimer() {
	if s.rn.kind == rnOutRestart || s.rn.kind == rnOutContentAdd {
		s.log.Info("no answer from the peer to the renegotiation", "kind", s.rn.kind.String())
		s.abortOut(failure488("no answer from the XMPP peer"))
	}
}
