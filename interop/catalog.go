package interop

import (
	"fmt"
	"regexp"
)

// Matrix returns the whole catalogue: for every caller × callee dialect,
// an answered audio call, an answered audio+video+data call, busy,
// declined, cancelled, no answer, callee vanished and hold/resume; an
// unknown target in every callee dialect; and headless Chromium calling
// every dialect. SIP calls that need no media use SIPp once its agent is
// ready (until then the pion SIP endpoint plays them).
func Matrix() []Scenario {
	var out []Scenario
	for _, from := range Dialects {
		for _, to := range Dialects {
			if Bridged(from, to) {
				out = append(out, pairScenarios(from, to)...)
			}
		}
	}
	for _, to := range Dialects {
		out = append(out, Scenario{Name: name(Party{Dialect: Browser, Agent: Chromium}, to, "answered-audio"),
			Caller: Party{Dialect: Browser, Agent: Chromium}, Callee: Party{Dialect: to},
			Media: Audio, Expect: Answered})
	}
	return out
}

// Bridged reports whether sigbridge bridges calls from one dialect to
// another. SIP to SIP is not: the gateway never sends an inbound SIP call
// back out to SIP (no hairpinning, a toll-fraud guard).
func Bridged(from, to Dialect) bool { return !(from == SIP && to == SIP) }

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
		case !sippAgentReady:
		case from == SIP && o != Unknown:
			s.Caller.Agent, s.Media = SIPp, NoMedia
		case to == SIP && o != Cancelled && o != Unknown:
			s.Callee.Agent, s.Media = SIPp, NoMedia
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
