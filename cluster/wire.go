package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// maxCallMsg bounds one call message between nodes (an SDP with every
// candidate fits many times over).
const maxCallMsg = 256 << 10

// subjects are the NATS subjects of one cluster (one prefix).
type subjects struct{ prefix, heartbeat string }

func newSubjects(prefix string) subjects { return subjects{prefix: prefix, heartbeat: prefix + ".hb"} }

// dial is where node takes dial requests.
func (s subjects) dial(node string) string { return s.prefix + ".node." + node + ".dial" }

// call is where node takes call events.
func (s subjects) call(node string) string { return s.prefix + ".node." + node + ".call" }

// dialMsg asks a node for a callee leg.
type dialMsg struct {
	Call   string `json:"c"`           // the owner's call id
	Node   string `json:"n"`           // the owner
	Boot   string `json:"b"`           // the owner's boot
	From   string `json:"f"`           // the caller's routable address
	Target string `json:"t"`           // canonical target
	Offer  string `json:"o,omitempty"` // the first offer (DialRequest.Offer)
}

// dialReply answers a dialMsg: the leg's kind and caps, or an error.
type dialReply struct {
	Boot    string `json:"b"`
	Kind    string `json:"k,omitempty"`
	Trickle bool   `json:"tr,omitempty"`
	MDNS    bool   `json:"md,omitempty"`
	Err     string `json:"e,omitempty"` // the gateway sentinel's text, or ""
	Text    string `json:"x,omitempty"`
}

// callMsg is one neutral event of one call, between its two nodes.
type callMsg struct {
	Call  string `json:"c"`
	Node  string `json:"n"`           // the sender
	Boot  string `json:"b,omitempty"` // bye: the sender's boot
	Seq   uint64 `json:"s"`           // 1, 2, ... per call and direction
	Type  string `json:"t"`           // gateway.Event.EventName
	SDP   string `json:"sdp,omitempty"`
	Same  bool   `json:"same,omitempty"` // offer: the SDP is the dial request's (not repeated)
	Mid   string `json:"mid,omitempty"`
	Index int    `json:"i,omitempty"`
	Line  string `json:"l,omitempty"`
	Ufrag string `json:"u,omitempty"`
	Code  int    `json:"code,omitempty"`
	Cond  string `json:"cond,omitempty"`
	Text  string `json:"text,omitempty"`
	Ref   string `json:"ref,omitempty"`
	Dig   string `json:"d,omitempty"`
	DurMS int64  `json:"ms,omitempty"`
}

// typeBye is the call message a closing node sends every other node last
// (Call empty): its calls' hang-ups are before it on the same subject.
const typeBye = "bye"

// errBadMsg: a call message that cannot be an event.
var errBadMsg = errors.New("cluster: bad call message")

// encodeEvent renders ev (nil error for every gateway event).
func encodeEvent(m *callMsg, ev gateway.Event) error {
	m.Type = ev.EventName()
	switch e := ev.(type) {
	case gateway.Offer:
		m.SDP = gateway.MarshalSDP(e.SDP)
	case gateway.Answer:
		m.SDP = gateway.MarshalSDP(e.SDP)
	case gateway.Candidate:
		m.Mid, m.Index, m.Line, m.Ufrag = e.Mid, e.MLineIndex, e.Line, e.Ufrag
	case gateway.EndOfCandidates:
		m.Mid = e.Mid
	case gateway.Ringing:
		m.Code = e.Code
	case gateway.Hangup:
		m.Cond, m.Code, m.Text = e.Reason.Condition, e.Reason.Code, e.Reason.Text
	case gateway.Failure:
		m.Code, m.Cond, m.Text, m.Ref = e.Code, e.Reason, e.Text, e.Ref
	case gateway.DTMF:
		m.Dig, m.DurMS = e.Digits, e.Duration.Milliseconds()
	default:
		return fmt.Errorf("%w: event %s does not travel", errBadMsg, ev.EventName())
	}
	return nil
}

// decodeEvent turns a call message back into its event. SDPs go through
// gateway.ParseSDP's checks and limits: ParseSDPString's, as m's strings
// are encoding/json's, new and never written.
func decodeEvent(m *callMsg) (gateway.Event, error) {
	switch m.Type {
	case "offer", "answer":
		sd, err := gateway.ParseSDPString(m.SDP)
		if err != nil {
			return nil, err
		}
		if m.Type == "offer" {
			return gateway.Offer{SDP: sd}, nil
		}
		return gateway.Answer{SDP: sd}, nil
	case "candidate":
		return gateway.Candidate{Mid: m.Mid, MLineIndex: m.Index, Line: m.Line, Ufrag: m.Ufrag}, nil
	case "end-of-candidates":
		return gateway.EndOfCandidates{Mid: m.Mid}, nil
	case "ringing":
		return gateway.Ringing{Code: m.Code}, nil
	case "hangup":
		return gateway.Hangup{Reason: gateway.Reason{Condition: m.Cond, Code: m.Code, Text: m.Text}}, nil
	case "failure":
		return gateway.Failure{Code: m.Code, Reason: m.Cond, Text: m.Text, Ref: m.Ref}, nil
	case "dtmf":
		if m.DurMS < 0 || m.DurMS > 60_000 {
			return nil, fmt.Errorf("%w: dtmf duration %d ms", errBadMsg, m.DurMS)
		}
		return gateway.DTMF{Digits: m.Dig, Duration: time.Duration(m.DurMS) * time.Millisecond}, nil
	}
	return nil, fmt.Errorf("%w: type %q", errBadMsg, m.Type)
}

// sentinels are the gateway errors a dial reply can carry by name.
var sentinels = []error{
	gateway.ErrBadTarget, gateway.ErrNotFound, gateway.ErrOffline, gateway.ErrBusy, gateway.ErrForbidden,
	gateway.ErrSelfCall, gateway.ErrDraining, gateway.ErrTooManyCalls, gateway.ErrCallEnded, gateway.ErrBadSDP,
	gateway.ErrSDPLimit, gateway.ErrGlare, gateway.ErrNoOffer, gateway.ErrTooManyCands, gateway.ErrOverloaded,
}

// errorReply names the sentinel err wraps ("" if none) for a dial reply.
func errorReply(r *dialReply, err error) {
	r.Text = err.Error()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			r.Err = s.Error()
			return
		}
	}
}

// replyError rebuilds a dial reply's error, wrapping its sentinel.
func replyError(r *dialReply, node string) error {
	for _, s := range sentinels {
		if r.Err == s.Error() {
			return fmt.Errorf("%w: on node %s: %s", s, node, r.Text)
		}
	}
	return fmt.Errorf("cluster: dial on node %s: %s", node, r.Text)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own structs of strings and numbers
	}
	return b
}
