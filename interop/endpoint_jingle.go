package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// jingleAgent is a Jingle party: the harness's XMPP client (an account
// on the deployment's XMPP server) with a pion media end, behaving like
// Conversations: XEP-0353 call setup (propose / ringing / proceed /
// reject / retract), then XEP-0166/0167/0176 (session-initiate and
// session-accept with trickled transport-info candidates, DTLS
// fingerprints, BUNDLE), session-terminate with a reason, and hold as
// session-info <hold/>/<unhold/>. A caller calls
// <XEP-0106 escaped target>@<the gateway's component domain>; a callee is
// xmpp:<its bare JID>. SDP ⇄ Jingle conversion uses xmpp/jingle, the same
// pure converter the gateway uses (see doc.go).
type jingleAgent struct {
	c         *xmppClient
	end       *pionEnd
	ev        *EventLog
	log       *slog.Logger
	party     string
	role      role
	bare      jid.JID // our account
	component string
	mids      *jingle.MidTable
	loopDone  chan struct{}

	mu         sync.Mutex
	sid        string
	peer       jid.JID // the gateway's address for this session
	sdpSent    bool    // our session-initiate / session-accept was acknowledged
	outbox     []webrtc.ICECandidateInit
	pending    []webrtc.ICECandidateInit // remote candidates before the remote SDP
	remoteSet  bool
	proceeded  bool // caller: the gateway proceeded; callee: we proceeded
	initiated  bool // the session-initiate was sent or received
	answered   bool
	ended      bool
	closed     bool
	initiate   *jingle.Jingle    // callee: the session-initiate, kept until Answer
	rtp        []string          // names of the audio/video contents, in order
	dirs       map[string]string // callee: direction of each content as the offerer (the gateway) holds it
	reofferT   *time.Timer       // callee: debounces hold + content-modify into one re-offer
	reanswer   chan string       // caller: directions from a content-modify answering our hold
	wantAnswer bool
}

// newJingleAgent logs in with the party's account and prepares the media.
func newJingleAgent(ctx context.Context, o agentOptions) (*jingleAgent, error) {
	x := o.dep.XMPP
	if x == nil {
		return nil, errors.New("interop: no XMPP deployment")
	}
	acc := x.Caller
	if o.role == roleCallee {
		acc = x.Callee
	}
	if acc.JID == "" {
		return nil, fmt.Errorf("interop: no XMPP account for the %s", o.role)
	}
	bare, err := jid.Parse(acc.JID)
	if err != nil {
		return nil, fmt.Errorf("interop: JID %q: %w", acc.JID, err)
	}
	end, err := newPionEnd(o.label, o.media, o.role == roleCaller, o.party.WithholdCandidates, o.log)
	if err != nil {
		return nil, err
	}
	c, err := xmppLogin(ctx, x.Server, acc, o.tr, o.role.String())
	if err != nil {
		_ = end.close()
		return nil, err
	}
	a := &jingleAgent{c: c, end: end, ev: NewEventLog(), log: o.log, party: o.role.String(), role: o.role,
		bare: bare.Bare(), component: x.Component, mids: jingle.NewMidTable(), loopDone: make(chan struct{}),
		dirs: map[string]string{}, reanswer: make(chan string, 1)}
	end.pc.OnICECandidate(a.onLocalCandidate)
	go a.loop()
	return a, nil
}

// Address implements Agent.
func (a *jingleAgent) Address() string { return "xmpp:" + a.bare.String() }

// Events implements Agent.
func (a *jingleAgent) Events() *EventLog { return a.ev }

// Media implements Agent.
func (a *jingleAgent) Media() MediaEnd { return a.end }

// gatewayJID is the JID through which the gateway reaches target.
func (a *jingleAgent) gatewayJID(target string) (jid.JID, error) {
	if a.component == "" {
		return jid.JID{}, errors.New("interop: no component domain (--xmpp-component) to call through")
	}
	return jid.Parse(escapeJIDLocal(target) + "@" + a.component)
}

// Call implements Agent: the offer is created now (gathering starts), a
// JMI propose goes to the gateway JID of target, and the
// session-initiate follows the gateway's proceed.
func (a *jingleAgent) Call(ctx context.Context, target string) error {
	to, err := a.gatewayJID(target)
	if err != nil {
		return err
	}
	if err := a.end.offer(""); err != nil {
		return err
	}
	a.mu.Lock()
	a.sid, a.peer = newToken()+newToken()[:4], to
	sid := a.sid
	a.mu.Unlock()
	audio, video, _ := a.end.kinds()
	var media []string
	if audio {
		media = append(media, "audio")
	}
	if video {
		media = append(media, "video")
	}
	return a.c.jmi(ctx, to, "propose", sid, "", media...)
}

// Ring implements Agent: JMI <ringing/>.
func (a *jingleAgent) Ring(ctx context.Context) error {
	a.mu.Lock()
	sid, peer := a.sid, a.peer
	a.mu.Unlock()
	if sid == "" {
		return errors.New("interop: no incoming call")
	}
	return a.c.jmi(ctx, peer, "ringing", sid, "")
}

// Answer implements Agent: JMI <proceed/>; the session-initiate that
// follows is answered with session-accept.
func (a *jingleAgent) Answer(ctx context.Context) error {
	a.mu.Lock()
	sid, peer := a.sid, a.peer
	a.proceeded, a.wantAnswer = true, true
	initiate := a.initiate
	a.mu.Unlock()
	if sid == "" {
		return errors.New("interop: no incoming call")
	}
	if err := a.c.jmi(ctx, peer, "proceed", sid, ""); err != nil {
		return err
	}
	if initiate != nil { // a client without JMI: the initiate came first
		go a.accept(initiate)
	}
	return nil
}

// Reject implements Agent: JMI <reject/> with <busy/> or <decline/>.
func (a *jingleAgent) Reject(ctx context.Context, why Outcome) error {
	a.mu.Lock()
	sid, peer := a.sid, a.peer
	a.ended = true
	a.mu.Unlock()
	reason := jingle.ReasonDecline
	if why == Busy {
		reason = jingle.ReasonBusy
	}
	return a.c.jmi(ctx, peer, "reject", sid, reason)
}

// HangUp implements Agent: retract (a caller before the proceed), reject
// (a callee before its proceed), else session-terminate (cancel before
// the answer, success after).
func (a *jingleAgent) HangUp(ctx context.Context) error {
	a.mu.Lock()
	sid, peer, proceeded, initiated, answered := a.sid, a.peer, a.proceeded, a.initiated, a.answered
	a.ended = true
	a.mu.Unlock()
	switch {
	case sid == "":
		return errors.New("interop: no call to hang up")
	case a.role == roleCaller && !initiated:
		return a.c.jmi(ctx, peer, "retract", sid, jingle.ReasonCancel)
	case a.role == roleCallee && !proceeded:
		return a.c.jmi(ctx, peer, "reject", sid, jingle.ReasonDecline)
	}
	reason := jingle.ReasonSuccess
	if !answered {
		reason = jingle.ReasonCancel
	}
	err := a.c.jingleIQ(ctx, peer, &jingle.Jingle{Action: jingle.ActionSessionTerminate, SID: sid,
		Reason: jingle.NewReason(reason, "")}, false)
	if a.role == roleCaller || answered {
		_ = a.c.jmi(ctx, peer.Bare(), "finish", sid, reason)
	}
	return err
}

// Reoffer implements Agent: hold is session-info <hold/>, resume
// <unhold/> (protocols.md §2.2: <hold/>/<unhold/> = re-INVITE
// sendonly/sendrecv). Jingle has no answer to them: the caller's
// "answer" is the senders the gateway agreed, which it only states (in a
// content-modify) when they differ from what was asked; after a short
// grace period without one, the asked directions stand.
func (a *jingleAgent) Reoffer(ctx context.Context, dir string) error {
	a.mu.Lock()
	sid, peer, rtp := a.sid, a.peer, slicesClone(a.rtp)
	a.mu.Unlock()
	if a.role != roleCaller {
		return errors.New("interop: re-offers from a Jingle callee are not implemented")
	}
	info := jingle.InfoUnhold
	if dir == "sendonly" {
		info = jingle.InfoHold
	}
	select {
	case <-a.reanswer:
	default:
	}
	j := &jingle.Jingle{Action: jingle.ActionSessionInfo, SID: sid, Info: jingle.NewInfo(info)}
	if err := a.c.jingleIQ(ctx, peer, j, true); err != nil {
		return fmt.Errorf("interop: session-info %s: %w", info, err)
	}
	asked := strings.Join(answerDirectionsFor(dir, len(rtp)), ",")
	go func() {
		detail := asked
		select {
		case d := <-a.reanswer:
			detail = d
		case <-time.After(holdGrace):
		case <-a.loopDone:
			return
		}
		a.ev.Add(Event{Kind: EvReanswered, Detail: detail})
	}()
	return nil
}

// holdGrace is how long a Jingle caller waits for a content-modify that
// would say the gateway agreed to other senders than it asked for.
const holdGrace = 500 * time.Millisecond

// answerDirectionsFor is the RFC 3264 answer to n streams offered dir.
func answerDirectionsFor(dir string, n int) []string {
	d := "sendrecv"
	switch dir {
	case "sendonly":
		d = "recvonly"
	case "recvonly":
		d = "sendonly"
	case "inactive":
		d = "inactive"
	}
	out := make([]string, max(n, 1))
	for i := range out {
		out[i] = d
	}
	return out
}

// Vanish implements Agent: the TCP connection drops without a closing
// stream tag, and the media stops.
func (a *jingleAgent) Vanish() error {
	a.mu.Lock()
	a.ended = true
	a.mu.Unlock()
	a.c.kill()
	return a.end.close()
}

// Close implements Agent: a call still up is hung up, then the stream
// closes.
func (a *jingleAgent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	live := a.sid != "" && !a.ended
	a.mu.Unlock()
	if live {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.HangUp(ctx)
		cancel()
	}
	a.c.close()
	err := a.end.close()
	<-a.loopDone
	return err
}

// loop handles the received stanzas in order until the stream ends.
func (a *jingleAgent) loop() {
	defer close(a.loopDone)
	for st := range a.c.in {
		if err := a.handle(st); err != nil {
			a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		}
	}
	a.ev.Close(fmt.Errorf("interop: %s: xmpp stream closed", a.party))
}

func (a *jingleAgent) handle(st xmppStanza) error {
	switch {
	case st.JMI != nil:
		return a.onJMI(st)
	case st.Jingle != nil && st.Name == "iq" && st.Type == "set":
		a.mu.Lock()
		mine := st.Jingle.SID == a.sid || (a.sid == "" && st.Jingle.Action == jingle.ActionSessionInitiate)
		a.mu.Unlock()
		if mine {
			return a.onJingle(st)
		}
	case st.Name == "message" && st.Type == "error":
		return a.onBounce(st)
	}
	return nil
}

// onJMI handles call setup messages.
func (a *jingleAgent) onJMI(st xmppStanza) error {
	m := st.JMI
	a.mu.Lock()
	sid := a.sid
	if a.role == roleCallee && m.Name == "propose" && sid == "" {
		a.sid, a.peer = m.ID, st.From
		a.mu.Unlock()
		a.ev.Add(Event{Kind: EvIncoming, Detail: st.From.String()})
		return nil
	}
	a.mu.Unlock()
	if m.ID != sid {
		return nil
	}
	switch m.Name {
	case "proceed":
		if a.role != roleCaller {
			return nil
		}
		a.mu.Lock()
		a.peer, a.proceeded = st.From, true
		a.mu.Unlock()
		return a.sendInitiate()
	case "reject", "retract":
		reason := m.Reason
		if reason == "" {
			reason = map[string]string{"reject": jingle.ReasonDecline, "retract": jingle.ReasonCancel}[m.Name]
		}
		a.endCall(reason, "jmi "+m.Name)
	case "finish":
		if m.Reason != "" {
			a.endCall(m.Reason, "jmi finish")
		}
	}
	return nil
}

// onBounce: our propose came back as an error (no such user, offline).
func (a *jingleAgent) onBounce(st xmppStanza) error {
	a.mu.Lock()
	sid := a.sid
	a.mu.Unlock()
	if st.ID != "" && st.ID == sid {
		a.endCall(conditionForStanzaError(st.ErrCond), "bounced: "+st.ErrCond)
	}
	return nil
}

// endCall records the end of the call once.
func (a *jingleAgent) endCall(reason, detail string) {
	a.mu.Lock()
	already := a.closed || a.endRecorded()
	a.ended = true
	a.mu.Unlock()
	if !already {
		a.ev.Add(Event{Kind: EvEnded, Reason: reason, Code: codeForCondition(reason), Detail: detail})
	}
}

// endRecorded reports whether an end was already recorded.
func (a *jingleAgent) endRecorded() bool {
	_, ok := a.ev.Find(0, EvEnded)
	return ok
}

func (a *jingleAgent) onJingle(st xmppStanza) error {
	j := st.Jingle
	switch j.Action {
	case jingle.ActionSessionInitiate:
		return a.onInitiate(st)
	case jingle.ActionSessionAccept:
		return a.onAccept(j)
	case jingle.ActionTransportInfo:
		return a.onTransportInfo(j)
	case jingle.ActionSessionInfo:
		return a.onInfo(j)
	case jingle.ActionContentModify:
		return a.onContentModify(j)
	case jingle.ActionSessionTerminate:
		reason := ""
		if j.Reason != nil {
			reason = j.Reason.Condition
		}
		a.endCall(reason, "session-terminate")
	}
	return nil
}

// sendInitiate sends session-initiate with our offer (caller, after the
// proceed), then the candidates gathered meanwhile.
func (a *jingleAgent) sendInitiate() error {
	j, err := a.localJingle(jingle.Initiator)
	if err != nil {
		return err
	}
	a.mu.Lock()
	j.Action, j.SID, j.Initiator = jingle.ActionSessionInitiate, a.sid, a.c.jid.String()
	peer := a.peer
	a.initiated = true
	a.noteContents(j)
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.c.jingleIQ(ctx, peer, j, true); err != nil {
		var ie *iqError
		if errors.As(err, &ie) {
			a.endCall(conditionForStanzaError(ie.cond), "session-initiate refused: "+ie.cond)
			return nil
		}
		return err
	}
	return a.flushOutbox()
}

// localJingle converts our local description.
func (a *jingleAgent) localJingle(author jingle.Role) (*jingle.Jingle, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(a.end.localSDP()); err != nil {
		return nil, fmt.Errorf("interop: our SDP: %w", err)
	}
	j, err := jingle.SDPToJingle(&sd, author, jingle.SDPToJingleOptions{Mids: a.mids})
	if err != nil {
		return nil, fmt.Errorf("interop: SDP to Jingle: %w", err)
	}
	return j, nil
}

// remoteSDP converts a Jingle offer or answer into SDP.
func (a *jingleAgent) remoteSDP(j *jingle.Jingle, author jingle.Role) (string, error) {
	sd, err := jingle.JingleToSDP(j, author, jingle.JingleToSDPOptions{Mids: a.mids})
	if err != nil {
		return "", fmt.Errorf("interop: Jingle to SDP: %w", err)
	}
	b, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("interop: marshal SDP: %w", err)
	}
	return string(b), nil
}

// noteContents records the audio/video contents (mu held).
func (a *jingleAgent) noteContents(j *jingle.Jingle) {
	a.rtp = a.rtp[:0]
	for _, c := range j.Contents {
		if c.Description != nil && (c.Description.Media == "audio" || c.Description.Media == "video") {
			a.rtp = append(a.rtp, c.Name)
			a.dirs[c.Name] = jingle.DirectionFromSenders(c.Senders, jingle.Initiator)
		}
	}
}

// onInitiate takes the gateway's offer (callee), answering at once if
// Answer was already called.
func (a *jingleAgent) onInitiate(st xmppStanza) error {
	j := st.Jingle
	offer, err := a.remoteSDP(j, jingle.Initiator)
	if err != nil {
		return err
	}
	if err := a.end.setRemote(webrtc.SDPTypeOffer, offer); err != nil {
		return err
	}
	a.mu.Lock()
	if a.sid == "" {
		a.sid = j.SID
	}
	a.peer, a.initiated, a.remoteSet = st.From, true, true
	a.noteContents(j)
	want, sid := a.wantAnswer, a.sid
	if !want {
		a.initiate = j
	}
	a.mu.Unlock()
	if err := a.flushPending(); err != nil {
		return err
	}
	if a.role == roleCallee && sid == j.SID {
		if _, ok := a.ev.Find(0, EvIncoming); !ok { // no JMI: the initiate is the call
			a.ev.Add(Event{Kind: EvIncoming, Detail: st.From.String()})
		}
	}
	if want {
		return a.accept(j)
	}
	return nil
}

// accept answers the session-initiate with session-accept.
func (a *jingleAgent) accept(*jingle.Jingle) error {
	if err := a.end.answerRemote(); err != nil {
		return err
	}
	j, err := a.localJingle(jingle.Responder)
	if err != nil {
		return err
	}
	a.mu.Lock()
	j.Action, j.SID, j.Responder = jingle.ActionSessionAccept, a.sid, a.c.jid.String()
	peer := a.peer
	a.answered = true
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.c.jingleIQ(ctx, peer, j, true); err != nil {
		return fmt.Errorf("interop: session-accept: %w", err)
	}
	return a.flushOutbox()
}

// onAccept applies the answer (caller).
func (a *jingleAgent) onAccept(j *jingle.Jingle) error {
	answer, err := a.remoteSDP(j, jingle.Responder)
	if err != nil {
		return err
	}
	if err := a.end.setRemote(webrtc.SDPTypeAnswer, answer); err != nil {
		return err
	}
	a.mu.Lock()
	a.answered, a.remoteSet = true, true
	a.mu.Unlock()
	a.ev.Add(Event{Kind: EvAnswered})
	return a.flushPending()
}

func (a *jingleAgent) onInfo(j *jingle.Jingle) error {
	if j.Info == nil {
		return nil
	}
	switch j.Info.Kind() {
	case jingle.InfoRinging:
		if _, ok := a.ev.Find(0, EvRinging); !ok {
			a.ev.Add(Event{Kind: EvRinging, Code: 180})
		}
	case jingle.InfoHold, jingle.InfoUnhold:
		if a.role != roleCallee {
			return nil
		}
		dir := "sendrecv"
		if j.Info.Kind() == jingle.InfoHold {
			dir = "sendonly"
		}
		a.mu.Lock()
		for _, n := range a.rtp {
			a.dirs[n] = dir
		}
		a.mu.Unlock()
		a.reofferSoon()
	}
	return nil
}

// onContentModify: new senders. For a callee it is (part of) the
// gateway's re-offer; for a caller, the gateway's statement of what it
// agreed to after our hold.
func (a *jingleAgent) onContentModify(j *jingle.Jingle) error {
	a.mu.Lock()
	for _, c := range j.Contents {
		if _, ok := a.dirs[c.Name]; ok {
			a.dirs[c.Name] = jingle.DirectionFromSenders(c.Senders, jingle.Initiator)
		}
	}
	a.mu.Unlock()
	if a.role == roleCallee {
		a.reofferSoon()
		return nil
	}
	var dirs []string
	a.mu.Lock()
	for _, n := range a.rtp {
		s := jingle.SendersFromDirection(a.dirs[n], jingle.Initiator)
		dirs = append(dirs, jingle.DirectionFromSenders(s, jingle.Responder))
	}
	a.mu.Unlock()
	select {
	case a.reanswer <- strings.Join(dirs, ","):
	default:
	}
	return nil
}

// reofferSoon reports the gateway's re-offer once its stanzas
// (session-info hold/unhold, content-modify) stopped coming for a moment.
func (a *jingleAgent) reofferSoon() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reofferT != nil {
		a.reofferT.Stop()
	}
	a.reofferT = time.AfterFunc(150*time.Millisecond, func() {
		a.mu.Lock()
		var dirs []string
		for _, n := range a.rtp {
			dirs = append(dirs, a.dirs[n])
		}
		a.mu.Unlock()
		a.ev.Add(Event{Kind: EvReoffer, Detail: strings.Join(dirs, ",")})
	})
}

// onTransportInfo applies trickled candidates (held until the remote SDP).
func (a *jingleAgent) onTransportInfo(j *jingle.Jingle) error {
	for _, c := range j.Contents {
		if c.Transport == nil {
			continue
		}
		mid, _ := a.mids.MidForName(c.Name)
		idx, _ := a.mids.IndexForName(c.Name)
		for _, cand := range c.Transport.Candidates {
			m, i := mid, uint16(idx)
			init := webrtc.ICECandidateInit{Candidate: cand.SDPLine(c.Transport.Ufrag), SDPMid: &m, SDPMLineIndex: &i}
			a.mu.Lock()
			ready := a.remoteSet
			if !ready {
				a.pending = append(a.pending, init)
			}
			a.mu.Unlock()
			if ready {
				if err := a.end.addCandidate(init); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (a *jingleAgent) flushPending() error {
	a.mu.Lock()
	pending := a.pending
	a.pending = nil
	a.mu.Unlock()
	for _, c := range pending {
		if err := a.end.addCandidate(c); err != nil {
			return err
		}
	}
	return nil
}

// onLocalCandidate trickles a candidate as transport-info once our SDP
// went out.
func (a *jingleAgent) onLocalCandidate(c *webrtc.ICECandidate) {
	if c == nil || a.end.withhold {
		return
	}
	init := c.ToJSON()
	a.mu.Lock()
	if !a.sdpSent {
		a.outbox = append(a.outbox, init)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.sendCandidates([]webrtc.ICECandidateInit{init})
}

func (a *jingleAgent) flushOutbox() error {
	a.mu.Lock()
	a.sdpSent = true
	out := a.outbox
	a.outbox = nil
	a.mu.Unlock()
	a.sendCandidates(out)
	return nil
}

// sendCandidates sends one transport-info per candidate (as Conversations
// does), without waiting for the acknowledgements.
func (a *jingleAgent) sendCandidates(cs []webrtc.ICECandidateInit) {
	ufrag, pwd := iceCredentials(a.end.localSDP())
	a.mu.Lock()
	sid, peer, ended := a.sid, a.peer, a.ended
	a.mu.Unlock()
	if ended {
		return
	}
	for _, c := range cs {
		cand, err := jingle.CandidateFromSDP(c.Candidate)
		if err != nil {
			continue
		}
		mid, idx := "", -1
		if c.SDPMid != nil {
			mid = *c.SDPMid
		}
		if c.SDPMLineIndex != nil {
			idx = int(*c.SDPMLineIndex)
		}
		name, ok := a.mids.ContentForCandidate(mid, idx)
		if !ok {
			continue
		}
		cand.Ufrag = ""
		j := &jingle.Jingle{Action: jingle.ActionTransportInfo, SID: sid, Contents: []jingle.Content{{
			Creator: jingle.CreatorInitiator, Name: name,
			Transport: &jingle.Transport{Ufrag: ufrag, Pwd: pwd, Candidates: []jingle.Candidate{cand}},
		}}}
		ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
		if err := a.c.jingleIQ(ctx, peer, j, false); err != nil {
			a.log.Debug("transport-info", "err", err)
		}
		cancel()
	}
}

// iceCredentials reads the first ice-ufrag/ice-pwd of an SDP.
func iceCredentials(s string) (ufrag, pwd string) {
	for _, l := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(l, "a=ice-pwd:"); ok && pwd == "" {
			pwd = v
		}
	}
	return ufrag, pwd
}

// conditionForStanzaError maps a stanza error to a Jingle condition as
// the gateway does (xmpp/README.md).
func conditionForStanzaError(cond string) string {
	switch cond {
	case "service-unavailable", "item-not-found", "recipient-unavailable", "remote-server-not-found", "gone", "redirect":
		return jingle.ReasonGone
	case "resource-constraint":
		return jingle.ReasonBusy
	case "bad-request", "not-acceptable":
		return jingle.ReasonIncompatibleParameters
	case "forbidden", "not-allowed":
		return jingle.ReasonDecline
	case "remote-server-timeout":
		return jingle.ReasonTimeout
	}
	return jingle.ReasonGeneralError
}

// codeForCondition is the SIP status a Jingle condition stands for
// (protocols.md §5.6), for reports.
func codeForCondition(cond string) int {
	switch cond {
	case jingle.ReasonSuccess:
		return 200
	case jingle.ReasonBusy:
		return 486
	case jingle.ReasonDecline:
		return 603
	case jingle.ReasonCancel:
		return 487
	case jingle.ReasonTimeout:
		return 408
	case jingle.ReasonGone:
		return 480
	case jingle.ReasonIncompatibleParameters:
		return 488
	case jingle.ReasonConnectivityError:
		return 503
	case jingle.ReasonSecurityError:
		return 403
	}
	return 500
}

// escapeJIDLocal escapes a target into a JID local part (XEP-0106).
func escapeJIDLocal(s string) string {
	const special = " \"&'/:<>@\\"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; strings.IndexByte(special, c) >= 0 {
			fmt.Fprintf(&b, "\\%02x", c)
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
