package interop

import (
	"fmt"
	"time"
)

// Dialect is the signaling protocol a party speaks to the gateway.
type Dialect string

// The three dialects of a sigbridge deployment.
const (
	Browser Dialect = "browser" // WebSocket JSON (MDN webrtc-from-chat + extensions)
	SIP     Dialect = "sip"
	Jingle  Dialect = "jingle" // XMPP Jingle
)

// Dialects lists the dialects in matrix order.
var Dialects = []Dialect{Browser, SIP, Jingle}

// AgentKind is the program that plays a party.
type AgentKind string

// Agents. The zero value is Pion.
const (
	Pion     AgentKind = ""         // a pion/webrtc peer behind our own client of the dialect
	Chromium AgentKind = "chromium" // headless Chromium running the browser dialect
	SIPp     AgentKind = "sipp"     // SIPp, for SIP scenarios that need no media
	// Third-party clients: libraries and programs people actually run.
	JsSIP   AgentKind = "jssip"   // JsSIP in headless Chromium on the gateway's SIP WebSocket listener
	Stanza  AgentKind = "stanza"  // StanzaJS in headless Chromium on the harness's Prosody (WebSocket)
	Baresip AgentKind = "baresip" // baresip, a native SIP UA with ICE and DTLS-SRTP
	// PlainRTP is the harness's SIP UA with a plain-RTP media end (RTP/AVP,
	// PCMU and telephone-event, no ICE, no DTLS), the way desk phones and
	// trunks speak: the deployment must anchor its media (rtpengine).
	PlainRTP AgentKind = "plain-rtp"
)

// ThirdParty reports whether the agent is a third-party client.
func (k AgentKind) ThirdParty() bool { return k == JsSIP || k == Stanza || k == Baresip }

// Party is one side of a call.
type Party struct {
	Dialect Dialect
	Agent   AgentKind
	// WithholdCandidates makes the party's media end keep its ICE
	// candidates to itself (none trickled, none in its SDP). Used by the
	// negative control only.
	WithholdCandidates bool
	// Subscribe (a StanzaJS callee) subscribes to the caller's gateway JID
	// before the call and is dialled at its bare JID; without it, at its
	// full JID.
	Subscribe bool
}

// String names the party: "browser", "browser/chromium", "sip/sipp".
func (p Party) String() string {
	if p.Agent == Pion {
		return string(p.Dialect)
	}
	return string(p.Dialect) + "/" + string(p.Agent)
}

// Media is what an answered call carries.
type Media string

// Media kinds.
const (
	Audio          Media = "audio"
	AudioVideoData Media = "audio+video+data"
	NoMedia        Media = "none" // signaling only (SIPp)
)

// Kinds lists the media the kind stands for.
func (m Media) Kinds() (audio, video, data bool) {
	switch m {
	case Audio:
		return true, false, false
	case AudioVideoData:
		return true, true, true
	}
	return false, false, false
}

// Outcome is how a call is expected to end.
type Outcome string

// Outcomes.
const (
	Answered  Outcome = "answered"  // answered, media both ways, hung up by the caller
	Busy      Outcome = "busy"      // the callee says busy
	Declined  Outcome = "declined"  // the callee declines
	Cancelled Outcome = "cancelled" // the caller gives up before the answer
	NoAnswer  Outcome = "no-answer" // nobody answers: the gateway's ring timeout ends it
	Unknown   Outcome = "unknown"   // the target does not exist
	Vanished  Outcome = "vanished"  // the callee disappears mid-call: the caller is hung up
	// Refused: the gateway refuses the caller's offer (a plain-RTP SIP
	// offer: 488 with a Warning) before the callee hears of it.
	Refused Outcome = "refused"
)

// Step is an action inside an answered call, run in order after media
// flows.
type Step string

// Steps.
const (
	Hold   Step = "hold"   // the caller re-offers with every stream sendonly
	Resume Step = "resume" // the caller re-offers sendrecv; media must flow again
	// Linger keeps the answered call up for three of the deployment's
	// dialog probe intervals: the call must stay up and media keep flowing.
	Linger Step = "linger"
	// Tones: the caller plays DTMF in-band (RFC 4733 telephone-event
	// packets on its audio stream); the callee's media end must read the
	// digits from such packets.
	Tones Step = "tones"
	// SignalDTMF: the caller sends DTMF as signaling (the browser
	// dialect's dtmf message, SIP INFO); the callee must get the digits,
	// as signaling or, where the gateway plays them into media it
	// anchors, in-band.
	SignalDTMF Step = "dtmf"
)

// Scenario is one declarative call description.
type Scenario struct {
	Name   string
	Caller Party
	Callee Party
	Media  Media
	Expect Outcome
	Steps  []Step
	// CalleeHangsUp ends an answered call from the callee's side (the
	// caller must be hung up with success); by default the caller hangs up.
	CalleeHangsUp bool
	// Deadline bounds the whole scenario (default: DefaultDeadline, plus
	// the deployment's ring timeout for NoAnswer).
	Deadline time.Duration
	// Control marks a negative control: it is expected to fail, and is
	// not part of Matrix.
	Control bool
	// Known, when set, is a known failure of sigbridge (not of the
	// harness): a failure whose reason contains Known.Match is reported as
	// KnownFailure (XFAIL) with Known.Why, any other failure as Fail, and a
	// pass as Pass.
	Known *KnownIssue
	// NotBridged, when set, says why sigbridge refuses this pair by design
	// (SIP → SIP hairpin, Jingle → Jingle loop). The scenario still runs, as
	// a probe: when the gateway refuses the call (403, decline) before the
	// callee hears of it, the result is Unsupported with this reason.
	NotBridged string
}

// KnownIssue describes a known failure of the gateway.
type KnownIssue struct {
	Match string // a substring of the expected failure reason
	Why   string // the gateway's limitation, for the report
}

// DefaultDeadline bounds a scenario that sets no Deadline.
const DefaultDeadline = 30 * time.Second

// Pair is the matrix cell of the scenario.
func (s Scenario) Pair() (caller, callee Dialect) { return s.Caller.Dialect, s.Callee.Dialect }

// Validate reports a scenario that cannot be run as described.
func (s Scenario) Validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("interop: scenario without a name")
	case !knownDialect(s.Caller.Dialect) || !knownDialect(s.Callee.Dialect):
		return fmt.Errorf("interop: %s: unknown dialect", s.Name)
	case len(s.Steps) > 0 && s.Expect != Answered:
		return fmt.Errorf("interop: %s: steps need an answered call", s.Name)
	case s.Media == NoMedia && (s.Expect == Answered || s.Expect == Vanished):
		return fmt.Errorf("interop: %s: an answered call needs media", s.Name)
	}
	return nil
}

func knownDialect(d Dialect) bool {
	for _, k := range Dialects {
		if d == k {
			return true
		}
	}
	return false
}

// answers reports whether the callee answers in this scenario.
func (s Scenario) answers() bool { return s.Expect == Answered || s.Expect == Vanished }
