package interop

import (
	"strings"
	"testing"
	"time"
)

// pick selects scenarios by exact name and fails if one is missing from
// the catalogue.
func pick(t *testing.T, names ...string) []Scenario {
	t.Helper()
	byName := map[string]Scenario{}
	for _, s := range Matrix() {
		byName[s.Name] = s
	}
	var out []Scenario
	for _, n := range names {
		s, ok := byName[n]
		if !ok {
			t.Fatalf("no scenario %q in the catalogue", n)
		}
		out = append(out, s)
	}
	return out
}

func wantStatus(t *testing.T, rs []Result, name string, want Status) {
	t.Helper()
	for _, r := range rs {
		if r.Scenario == name {
			if r.Status != want {
				t.Errorf("%s: %s (%s), want %s", name, r.Status, r.Reason, want)
			}
			return
		}
	}
	t.Errorf("%s did not run", name)
}

// TestSIPPaths runs the SIP side of the matrix against a local gateway:
// the harness's SIP UA (pion media) as caller and callee, SIPp as a UAS
// (busy, no answer) and as a UAC (declined, cancelled, unknown target),
// hold/resume by re-INVITE, the SIP → SIP probe (refused by design:
// unsupported) and vanishing SIP callers and callees (noticed by the
// gateway's dialog probes). The whole catalogue runs in `sigbridge interop` (the CI
// command); this is its SIP core.
func TestSIPPaths(t *testing.T) {
	l := startLocal(t)
	dep := l.Deployment
	dep.SIPp = needTool(t, "sipp", "sip-tester")
	scs := pick(t, "browser-to-sip/answered-av-data", "browser-to-sip/busy", "browser-to-sip/no-answer",
		"browser-to-sip/unknown", "browser-to-sip/hold-resume", "browser-to-sip/callee-vanishes",
		"sip-to-browser/answered-audio", "sip-to-browser/declined", "sip-to-browser/cancelled",
		"sip-to-browser/unknown", "sip-to-browser/callee-vanishes", "sip-to-sip/answered-audio")
	rs := runMatrix(t, dep, scs, 4*time.Minute)
	wantStatus(t, rs, "sip-to-sip/answered-audio", Unsupported)
	wantStatus(t, rs, "browser-to-sip/busy", Pass)
	wantStatus(t, rs, "browser-to-sip/callee-vanishes", Pass)
	for _, r := range rs {
		if r.Status == Unsupported && !strings.Contains(r.Reason, "no hairpin") {
			t.Errorf("%s unsupported: %s", r.Scenario, r.Reason)
		}
		if r.Status == KnownFailure {
			t.Errorf("%s is a known failure: %s", r.Scenario, r.Reason)
		}
	}
}

// TestJinglePaths runs the Jingle side against a local gateway joined to
// a Prosody the harness starts: a Jingle client (JMI, trickle ICE, pion
// media) calling and called by browser and SIP users, SIPp as a SIP
// caller and callee of Jingle, hold/resume by session-info, vanishing
// Jingle callees (session pings) and SIP callees of Jingle callers, and the
// Jingle → Jingle probe (refused by design: unsupported).
func TestJinglePaths(t *testing.T) {
	l := startLocalXMPP(t)
	dep := l.Deployment
	dep.SIPp = needTool(t, "sipp", "sip-tester")
	scs := pick(t, "jingle-to-browser/answered-av-data", "jingle-to-browser/busy", "jingle-to-browser/unknown",
		"jingle-to-browser/callee-vanishes", "jingle-to-browser/hold-resume",
		"browser-to-jingle/answered-audio", "browser-to-jingle/declined", "browser-to-jingle/cancelled",
		"browser-to-jingle/no-answer", "browser-to-jingle/unknown", "browser-to-jingle/hold-resume",
		"jingle-to-sip/answered-audio", "jingle-to-sip/declined", "sip-to-jingle/answered-audio",
		"sip-to-jingle/busy", "browser-to-jingle/callee-vanishes", "sip-to-jingle/callee-vanishes",
		"jingle-to-sip/callee-vanishes", "jingle-to-jingle/answered-audio")
	rs := runMatrix(t, dep, scs, 6*time.Minute)
	wantStatus(t, rs, "jingle-to-jingle/answered-audio", Unsupported)
	wantStatus(t, rs, "jingle-to-browser/answered-av-data", Pass)
	wantStatus(t, rs, "sip-to-jingle/busy", Pass)
	for _, r := range rs {
		if r.Status == KnownFailure {
			t.Errorf("%s is a known failure: %s", r.Scenario, r.Reason)
		}
	}
	wantStatus(t, rs, "browser-to-jingle/callee-vanishes", Pass)
	wantStatus(t, rs, "sip-to-jingle/callee-vanishes", Pass)
	wantStatus(t, rs, "jingle-to-sip/callee-vanishes", Pass)
}

func TestCatalogue(t *testing.T) {
	var sipp, known, probes int
	for _, s := range Matrix() {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if s.Caller.Agent == SIPp || s.Callee.Agent == SIPp {
			sipp++
			if s.answers() {
				t.Errorf("%s: SIPp plays no answered call", s.Name)
			}
		}
		if s.Known != nil {
			known++
		}
		if s.NotBridged != "" {
			probes++
		}
	}
	// The only known issue: Chromium offering to a plain-RTP phone through
	// rtpengine (see knownIssues).
	if sipp == 0 || known != 2 || probes != 2 {
		t.Errorf("%d SIPp scenarios, %d known issues (want 2), %d probes", sipp, known, probes)
	}
}

func TestEscapeJIDLocal(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                       "alice",
		"sip:bob@127.0.0.1:5070":      `sip\3abob\40127.0.0.1\3a5070`,
		"xmpp:juliet@example.org":     `xmpp\3ajuliet\40example.org`,
		`a b"&'/<>\`:                  `a\20b\22\26\27\2f\3c\3e\5c`,
		"+15551234":                   "+15551234",
		"sip:x@[::1]":                 `sip\3ax\40[\3a\3a1]`,
		"interop-callee-0123abcd.x_y": "interop-callee-0123abcd.x_y",
	} {
		if got := escapeJIDLocal(in); got != want {
			t.Errorf("escapeJIDLocal(%q) = %q, want %q", in, got, want)
		}
	}
}
