package interop

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestSIPAgentsDirect calls one SIP agent from another without a gateway
// (the caller's "gateway" is the callee's UA), through the engine's flows:
// the SIP endpoint itself must ring, answer, carry media, hold, resume,
// refuse and cancel before it is pointed at a deployment.
func TestSIPAgentsDirect(t *testing.T) {
	for _, s := range []Scenario{
		{Name: "answered", Media: AudioVideoData, Expect: Answered},
		{Name: "hold-resume", Media: Audio, Expect: Answered, Steps: []Step{Hold, Resume}},
		{Name: "busy", Media: Audio, Expect: Busy},
		{Name: "declined", Media: Audio, Expect: Declined},
		{Name: "cancelled", Media: Audio, Expect: Cancelled},
	} {
		t.Run(s.Name, func(t *testing.T) {
			s.Caller, s.Callee = Party{Dialect: SIP}, Party{Dialect: SIP}
			r := runDirectSIP(t, s)
			logResult(t, r)
			if !r.Passed() {
				t.Fatalf("%s: %s", r.Status, r.Reason)
			}
		})
	}
}

func runDirectSIP(t *testing.T, s Scenario) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	x := &execution{s: s, log: slog.New(slog.DiscardHandler), start: start, tr: NewTranscript(start, 200)}
	o := agentOptions{dep: Deployment{SIP: &SIPDeployment{}}, party: s.Callee, role: roleCallee, name: "bob",
		label: "bob", media: s.Media, tr: x.tr, log: x.log}
	callee, err := newSIPAgent(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	x.callee = callee
	o.dep = Deployment{SIP: &SIPDeployment{Gateway: "sip:" + callee.host}}
	o.role, o.name, o.label, o.party = roleCaller, "alice", "alice", s.Caller
	caller, err := newSIPAgent(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	x.caller = caller
	r := newResult(s)
	err = caller.Call(ctx, "bob")
	if err == nil {
		err = x.alert(ctx)
	}
	if err == nil {
		err = x.finish(ctx)
	}
	x.collect(ctx, &r)
	x.close()
	r.Status = Pass
	if err != nil {
		r.Status, r.Reason = Fail, reasonOf(err)
	}
	r.Transcript = x.tr.Lines()
	return r
}
