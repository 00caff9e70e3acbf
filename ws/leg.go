package ws

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
)

// errConnGone is Deliver's answer when the browser's connection is closed:
// the bridge then ends the call and tells the other side.
var errConnGone = errors.New("browser connection closed")

// leg is one call of one browser connection, seen from the gateway: it
// renders the bridge's events as dialect messages and queues them on the
// connection. It is created by the read goroutine (an outgoing call) or by
// Dial (an incoming call).
type leg struct {
	c       *conn
	call    atomic.Pointer[gateway.Call]
	callID  string // "" for MDN calls placed without callId
	peer    string // the other party's routable address: `name` of relayed messages
	peerKey string // canonical peer address, for lookups
	self    string // this connection's name when the call began: `target`
	ended   atomic.Bool

	// Owned by the call goroutine (Deliver).
	remoteMids []string // mids of the last SDP delivered to the browser
	// Owned by the read goroutine.
	localMids []string // mids of the last SDP the browser sent
}

// Kind implements gateway.Leg.
func (l *leg) Kind() string { return "ws" }

// Caps implements gateway.Leg: browsers trickle and resolve mDNS names;
// the leg only reads the SDPs it renders (render, within Deliver), and an
// SDP it parsed from the browser is the gateway's once posted (its mids
// are taken before: localMids).
func (l *leg) Caps() gateway.Caps {
	return gateway.Caps{Trickle: true, MDNS: true, ReadsSDP: true, GivesSDP: true}
}

// Deliver implements gateway.Leg. It never blocks: the message is queued on
// the connection; a full queue drops the connection (and errConnGone ends
// the call).
func (l *leg) Deliver(ev gateway.Event) error {
	if l.ended.Load() {
		return nil // the browser hung up; the bridge is finishing the call
	}
	if _, final := ev.(gateway.Hangup); final {
		l.ended.Store(true)
		l.c.calls.remove(l)
	}
	b, typ := l.render(ev)
	if b == nil {
		return nil
	}
	if !l.c.enqueue(b, typ) {
		return errConnGone
	}
	return nil
}

// BeginBatch and EndBatch make the leg a gateway.Batcher: what Deliver
// queues in between (an answer and its end-of-candidates) goes out in one
// write when the batch ends.
func (l *leg) BeginBatch() { l.c.out.cork() }

// EndBatch sends what the batch held back.
func (l *leg) EndBatch() {
	if l.c.out.uncork() {
		l.c.kick(writeInline)
	}
}

// render turns a gateway event into a message for the browser, or nil for
// events this client does not get.
func (l *leg) render(ev gateway.Event) ([]byte, string) {
	switch e := ev.(type) {
	case gateway.Offer:
		return l.renderSDP(typeVideoOffer, "offer", e.SDP), typeVideoOffer
	case gateway.Answer:
		return l.renderSDP(typeVideoAnswer, "answer", e.SDP), typeVideoAnswer
	case gateway.Candidate:
		return l.renderCandidate(e), typeNewICECandidate
	case gateway.EndOfCandidates:
		return l.renderEndOfCandidates(e), typeEndOfCandidates
	case gateway.Ringing:
		return l.renderRinging(e), typeRinging
	case gateway.Hangup:
		return l.renderHangup(e.Reason), typeHangUp
	case gateway.Failure:
		return l.renderFailure(e), typeError
	case gateway.DTMF:
		return l.renderDTMF(e), typeDTMF
	}
	return nil, ""
}

// shownCallID is the callId put in messages: only extension clients get it.
func (l *leg) shownCallID() string {
	if l.c.ext.Load() {
		return l.callID
	}
	return ""
}

func (l *leg) renderSDP(typ, sdpType string, sd *sdp.SessionDescription) []byte {
	l.remoteMids = mids(sd)
	return encodeSDPMsg(sdpMsg{Type: typ, Name: l.peer, Target: l.self, CallID: l.shownCallID(),
		SDP: sdpJSON{Type: sdpType, SDP: gateway.MarshalSDP(sd)}})
}

func (l *leg) renderCandidate(e gateway.Candidate) []byte {
	line := strings.TrimPrefix(e.Line, "a=")
	if !strings.HasPrefix(line, "candidate:") {
		line = "candidate:" + line
	}
	mid, index := l.placeCandidate(e)
	ufrag := e.Ufrag
	if ufrag == "" {
		if p, err := gateway.ParseCandidate(line); err == nil {
			ufrag = p.Ufrag
		}
	}
	return encodeCandidateMsg(candidateMsg{Type: typeNewICECandidate, Name: l.peer, Target: l.self, CallID: l.shownCallID(),
		Candidate: candidateJSON{Candidate: line, SDPMid: mid, SDPMLineIndex: index, UsernameFragment: ufrag}})
}

// placeCandidate returns both sdpMid and sdpMLineIndex for a candidate,
// filling the one the other leg left out from the SDP the browser got.
func (l *leg) placeCandidate(e gateway.Candidate) (*string, int) {
	if e.Mid != "" {
		for i, m := range l.remoteMids {
			if m == e.Mid {
				return &e.Mid, i
			}
		}
		return &e.Mid, e.MLineIndex
	}
	if e.MLineIndex >= 0 && e.MLineIndex < len(l.remoteMids) && l.remoteMids[e.MLineIndex] != "" {
		mid := l.remoteMids[e.MLineIndex]
		return &mid, e.MLineIndex
	}
	return nil, max(e.MLineIndex, 0)
}

// renderEndOfCandidates: only extension clients get end-of-candidates; the
// MDN sample has no such message (protocols.md §1.1) and an SDP from a
// non-trickling leg already carries a=end-of-candidates.
func (l *leg) renderEndOfCandidates(e gateway.EndOfCandidates) []byte {
	if !l.c.ext.Load() {
		return nil
	}
	m := endOfCandidatesMsg{Type: typeEndOfCandidates, Name: l.peer, Target: l.self, CallID: l.callID}
	if e.Mid != "" {
		m.SDPMid = &e.Mid
	}
	return encodeEndOfCandidatesMsg(m)
}

// renderRinging: only extension clients get ringing.
func (l *leg) renderRinging(e gateway.Ringing) []byte {
	if !l.c.ext.Load() {
		return nil
	}
	code := e.Code
	if code == 0 {
		code = 180
	}
	return encodeRingingMsg(ringingMsg{Type: typeRinging, Name: l.peer, Target: l.self, CallID: l.callID, Code: code})
}

func (l *leg) renderHangup(r gateway.Reason) []byte {
	return encodeHangupMsg(hangupMsg{Type: typeHangUp, Name: l.peer, Target: l.self, CallID: l.shownCallID(),
		Reason: r.Condition, Code: r.Code, Text: safeText(r.Text, maxHangupText)})
}

func (l *leg) renderFailure(f gateway.Failure) []byte {
	l.c.noteError(f.Code, wireRef(f.Ref), f.Text)
	return encode(errorMsg{Type: typeError, Code: f.Code, Reason: f.Reason, Text: f.Text,
		Ref: wireRef(f.Ref), CallID: l.shownCallID()})
}

// wireRef names the dialect message behind a gateway event name.
func wireRef(event string) string {
	switch event {
	case "offer":
		return typeVideoOffer
	case "answer":
		return typeVideoAnswer
	case "candidate":
		return typeNewICECandidate
	}
	return event
}

// post hands an event from the browser to the call. It is called by the
// connection's reader (and by finish, on the last one), which holds no
// lock: when the call is idle, the reader handles the event itself
// (gateway.Call.PostInline) and the message the other leg gets is
// written by this goroutine too, with no hand-off to the call's goroutine.
func (l *leg) post(ev gateway.Event) error {
	call := l.call.Load()
	if call == nil {
		return ErrNoSuchCall
	}
	return call.PostInline(l, ev)
}

// mids lists the a=mid of each m-line ("" where there is none).
func mids(sd *sdp.SessionDescription) []string {
	out := make([]string, len(sd.MediaDescriptions))
	for i, m := range sd.MediaDescriptions {
		mid, _ := m.Attribute("mid")
		// A copy: pion/sdp's parser puts every string of an SDP in one
		// buffer the size of the SDP, which a kept substring keeps alive
		// for the whole call (1-2 KiB per held call and direction). The
		// mids browsers write are shared strings instead (midWords).
		out[i] = sharedMid(mid)
	}
	return out
}

// midIndex returns the position of mid in list, or -1.
func midIndex(list []string, mid string) int {
	for i, m := range list {
		if m == mid {
			return i
		}
	}
	return -1
}

// safeText keeps printable text for a message field: control characters
// dropped, at most n bytes.
func safeText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}
