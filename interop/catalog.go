package interop

import (
	"fmt"
	"regexp"
)

// Matrix returns the whole catalogue: for every caller × callee dialect
// that sigbridge bridges, an answered audio call, an answered
// audio+video+data call, busy, declined, cancelled, no answer, unknown
// target, callee vanished and hold/resume; for each pair it does not
// bridge by design, one probe call (reported unsupported when the gateway
// refuses it); and headless Chromium calling every dialect. SIP calls that
// need no media use SIPp. Scenarios that hit a documented limitation of
// the gateway carry it as Known.
func Matrix() []Scenario {
	var out []Scenario
	for _, from := range Dialects {
		for _, to := range Dialects {
			if Bridged(from, to) {
				out = append(out, pairScenarios(from, to)...)
				continue
			}
			out = append(out, Scenario{Name: name(Party{Dialect: from}, to, "answered-audio"),
				Caller: Party{Dialect: from}, Callee: Party{Dialect: to}, Media: Audio, Expect: Answered,
				NotBridged: NotBridgedWhy(from, to)})
		}
	}
	for _, to := range Dialects {
		out = append(out, Scenario{Name: name(Party{Dialect: Browser, Agent: Chromium}, to, "answered-audio"),
			Caller: Party{Dialect: Browser, Agent: Chromium}, Callee: Party{Dialect: to},
			Media: Audio, Expect: Answered})
	}
	out = append(out, ThirdPartyScenarios()...)
	out = append(out, DTMFScenarios()...)
	out = append(out, PlainRTPScenarios()...)
	for i := range out {
		out[i].Known = knownIssue(out[i].Name)
	}
	return out
}

// ThirdPartyScenarios are the rows of clients people actually run, each
// calling and called by the harness's browser user (a pion peer): JsSIP
// and baresip as digest users of the gateway's SIP side, StanzaJS on the
// harness's XMPP server, with hang-ups from both sides; JsSIP's calls
// outlast three dialog probe intervals. A plain-RTP SIP offer (SIPp) is
// refused with 488 and a Warning.
func ThirdPartyScenarios() []Scenario {
	b := Party{Dialect: Browser}
	jssip := Party{Dialect: SIP, Agent: JsSIP}
	baresip := Party{Dialect: SIP, Agent: Baresip}
	stanza := Party{Dialect: Jingle, Agent: Stanza}
	bare := Party{Dialect: Jingle, Agent: Stanza, Subscribe: true}
	chromium := Party{Dialect: Browser, Agent: Chromium}
	call := func(from, to Party, label string, hangUpByCallee bool, steps ...Step) Scenario {
		return Scenario{Name: fmt.Sprintf("%s-to-%s/%s", from.Dialect, to.Dialect, label), Caller: from, Callee: to,
			Media: Audio, Expect: Answered, CalleeHangsUp: hangUpByCallee, Steps: steps}
	}
	return []Scenario{
		call(jssip, b, "jssip-answered-audio", false, Linger),
		call(jssip, b, "jssip-callee-hangs-up", true),
		call(b, jssip, "jssip-answered-audio", false, Linger),
		call(b, jssip, "jssip-callee-hangs-up", true),
		call(stanza, b, "stanza-answered-audio", false),
		call(stanza, b, "stanza-callee-hangs-up", true),
		call(stanza, Party{Dialect: SIP}, "stanza-answered-audio", false),
		call(b, stanza, "stanza-full-jid-answered-audio", false),
		call(b, stanza, "stanza-full-jid-callee-hangs-up", true),
		call(b, bare, "stanza-bare-jid-answered-audio", false),
		call(baresip, chromium, "baresip-answered-audio", false),
		call(baresip, chromium, "baresip-callee-hangs-up", true),
		call(chromium, baresip, "baresip-answered-audio", false),
		call(chromium, baresip, "baresip-callee-hangs-up", true),
		{Name: "sip-to-browser/plain-rtp-refused", Caller: Party{Dialect: SIP, Agent: SIPp}, Callee: b,
			Media: NoMedia, Expect: Refused},
	}
}

// DTMFScenarios are answered audio calls between the browser dialect and
// SIP that carry DTMF: in-band (RFC 4733 telephone-event packets, from a
// pion end or Chromium's RTCRtpSender.dtmf, counted and decoded by the
// other media end) and as signaling (the browser's dtmf message, SIP
// INFO application/dtmf-relay), both ways.
func DTMFScenarios() []Scenario {
	b, chromium, sip := Party{Dialect: Browser}, Party{Dialect: Browser, Agent: Chromium}, Party{Dialect: SIP}
	call := func(from, to Party, label string, st Step) Scenario {
		return Scenario{Name: fmt.Sprintf("%s-to-%s/%s", from.Dialect, to.Dialect, label), Caller: from, Callee: to,
			Media: Audio, Expect: Answered, Steps: []Step{st}}
	}
	return []Scenario{
		call(b, sip, "dtmf-tones", Tones),
		call(chromium, sip, "chromium-dtmf-tones", Tones),
		call(sip, b, "dtmf-tones", Tones),
		call(b, sip, "dtmf-info", SignalDTMF),
		call(chromium, sip, "chromium-dtmf-info", SignalDTMF),
		call(sip, b, "dtmf-info", SignalDTMF),
		call(sip, chromium, "dtmf-info-to-chromium", SignalDTMF),
	}
}

// PlainRTPScenarios are calls between the browser dialect and a plain-RTP
// SIP phone (the harness's SIP UA with RTP/AVP media: PCMU and
// telephone-event, no ICE, no DTLS) whose media the deployment anchors
// through rtpengine: answered both ways, hold and resume both ways, hang-up
// from the phone, the phone vanishing, Chromium at either end, and DTMF
// (in-band both ways; the browser's dtmf message toward the phone, which
// the gateway plays into the media or sends as INFO; INFO from the phone
// to the browser). A deployment without rtpengine reports them
// unsupported.
func PlainRTPScenarios() []Scenario {
	b, chromium := Party{Dialect: Browser}, Party{Dialect: Browser, Agent: Chromium}
	phone := Party{Dialect: SIP, Agent: PlainRTP}
	call := func(from, to Party, label string, steps ...Step) Scenario {
		return Scenario{Name: fmt.Sprintf("%s-to-%s/%s", from.Dialect, to.Dialect, label), Caller: from, Callee: to,
			Media: Audio, Expect: Answered, Steps: steps}
	}
	hangUp := call(b, phone, "plain-rtp-callee-hangs-up")
	hangUp.CalleeHangsUp = true
	vanish := call(b, phone, "plain-rtp-callee-vanishes")
	vanish.Expect = Vanished
	return []Scenario{
		call(b, phone, "plain-rtp-answered-audio"),
		call(phone, b, "plain-rtp-answered-audio"),
		call(b, phone, "plain-rtp-hold-resume", Hold, Resume),
		call(phone, b, "plain-rtp-hold-resume", Hold, Resume),
		hangUp,
		vanish,
		call(chromium, phone, "plain-rtp-from-chromium"),
		call(phone, chromium, "plain-rtp-to-chromium"),
		call(b, phone, "plain-rtp-dtmf-tones", Tones),
		call(chromium, phone, "plain-rtp-dtmf-tones-from-chromium", Tones),
		call(phone, b, "plain-rtp-dtmf-tones", Tones),
		call(b, phone, "plain-rtp-dtmf", SignalDTMF),
		call(phone, b, "plain-rtp-dtmf-info", SignalDTMF),
		call(phone, chromium, "plain-rtp-dtmf-info-to-chromium", SignalDTMF),
	}
}

// Bridged reports whether sigbridge bridges calls from one dialect to
// another by design. SIP to SIP is not: the gateway never sends an inbound
// SIP call back out to SIP (no hairpinning, a toll-fraud guard). Jingle to
// Jingle is not: an XMPP caller cannot reach an xmpp: target through the
// gateway (a loop; XMPP users call each other directly).
func Bridged(from, to Dialect) bool { return NotBridgedWhy(from, to) == "" }

// NotBridgedWhy says why sigbridge does not bridge a pair ("" if it does).
func NotBridgedWhy(from, to Dialect) string {
	switch {
	case from == SIP && to == SIP:
		return "the SIP adapter refuses SIP → SIP by design (no hairpin: an inbound SIP call never goes back out to SIP, a toll-fraud guard; 403)"
	case from == Jingle && to == Jingle:
		return "the XMPP adapter refuses xmpp: targets from XMPP callers by design (a loop through the gateway; XMPP users call each other directly)"
	}
	return ""
}

// pairScenarios are the scenarios of one matrix cell.
func pairScenarios(from, to Dialect) []Scenario {
	media := func(o Outcome, m Media, label string, steps ...Step) Scenario {
		return Scenario{Name: name(Party{Dialect: from}, to, label), Caller: Party{Dialect: from},
			Callee: Party{Dialect: to}, Media: m, Expect: o, Steps: steps}
	}
	signaling := func(o Outcome) Scenario {
		s := Scenario{Name: name(Party{Dialect: from}, to, string(o)), Caller: Party{Dialect: from},
			Callee: Party{Dialect: to}, Media: Audio, Expect: o}
		switch {
		case from == SIP:
			s.Caller.Agent = SIPp
		case to == SIP && (o == Busy || o == Declined || o == NoAnswer):
			s.Callee.Agent = SIPp
		}
		return s
	}
	return []Scenario{
		media(Answered, Audio, "answered-audio"),
		media(Answered, AudioVideoData, "answered-av-data"),
		signaling(Busy),
		signaling(Declined),
		signaling(Cancelled),
		signaling(NoAnswer),
		signaling(Unknown),
		media(Vanished, Audio, "callee-vanishes"),
		media(Answered, Audio, "hold-resume", Hold, Resume),
	}
}

// knownIssues are the documented limitations of the gateway that make
// scenarios fail: scenario names (regular expressions) and the failure
// they cause. A scenario that starts passing is reported PASS. Add an
// entry (with the limitation's documentation) rather than dropping a
// scenario the gateway cannot pass yet.
var knownIssues = []struct {
	name *regexp.Regexp
	KnownIssue
}{
	{regexp.MustCompile(`^browser-to-sip/plain-rtp-.*from-chromium$`), KnownIssue{
		Match: "callee ICE plain RTP, nothing received",
		Why: "the SIP adapter has rtpengine take the passive DTLS role toward WebRTC (sip/rtpengine ToWebRTC, " +
			"DTLS: passive); answering Chromium's offer that way, the DTLS handshake between Chromium 156 and " +
			"rtpengine 10.5 never completes (rtpengine logs \"SRTP output wanted, but no crypto suite was " +
			"negotiated\") and no audio reaches the phone; with rtpengine's own choice (active) the call passes"}},
}

func knownIssue(scenario string) *KnownIssue {
	for _, k := range knownIssues {
		if k.name.MatchString(scenario) {
			issue := k.KnownIssue
			return &issue
		}
	}
	return nil
}

// name builds "browser-to-sip/busy".
func name(caller Party, to Dialect, label string) string {
	return fmt.Sprintf("%s-to-%s/%s", caller.Dialect, to, labelFor(caller, label))
}

func labelFor(p Party, label string) string {
	if p.Agent == Chromium {
		return "chromium-" + label
	}
	return label
}

// NegativeControl is a browser → browser audio call whose two media ends
// withhold their ICE candidates: signaling completes, media cannot, and
// the scenario must be reported failed with "no ICE connectivity". Both
// ends withhold because one silent end alone is still reached: the other
// end's connectivity checks teach it a peer-reflexive candidate.
func NegativeControl() Scenario {
	p := Party{Dialect: Browser, WithholdCandidates: true}
	return Scenario{Name: "negative-control/withheld-candidates", Caller: p, Callee: p, Media: Audio,
		Expect: Answered, Control: true}
}

// Select returns the scenarios whose name matches the regular expression
// pattern ("" selects all).
func Select(scenarios []Scenario, pattern string) ([]Scenario, error) {
	if pattern == "" {
		return scenarios, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("interop: --run pattern: %w", err)
	}
	var out []Scenario
	for _, s := range scenarios {
		if re.MatchString(s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}
