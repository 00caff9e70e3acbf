package interop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// expectedReason is the condition the hung-up party must see for each
// outcome ("" accepts any).
var expectedReason = map[Outcome]string{
	Answered:  "success",
	Busy:      "busy",
	Declined:  "decline",
	Cancelled: "cancel",
	NoAnswer:  "timeout",
	Unknown:   "gone",
	Vanished:  "connectivity-error",
	Refused:   "incompatible-parameters",
}

// run plays the scenario: set up the agents, place the call, then follow
// the flow of the expected outcome.
func (x *execution) run(ctx context.Context) error {
	if err := x.setup(ctx); err != nil {
		return err
	}
	target := x.target()
	x.start = time.Now()
	if err := x.caller.Call(ctx, target); err != nil {
		return &failure{reason: "the caller could not send its offer", err: err}
	}
	switch x.s.Expect {
	case Unknown:
		return x.expectEnd(ctx, x.caller, "caller", 0)
	case Refused:
		return x.expectRefused(ctx)
	}
	if err := x.alert(ctx); err != nil {
		return err
	}
	return x.finish(ctx)
}

// target is what the caller dials: the callee, or for Unknown an address
// nobody has (for SIP, an unknown user at the harness's own UA, which
// answers 404 as a PBX would).
func (x *execution) target() string {
	switch {
	case x.s.Expect != Unknown:
		return x.callee.Address()
	case x.callee != nil:
		addr := x.callee.Address()
		if _, host, ok := strings.Cut(addr, "@"); ok {
			return "sip:nobody-" + newToken() + "@" + host
		}
	}
	return x.dep.UnknownTarget(x.s.Callee)
}

// setup starts the callee (unless the target is unknown, where only a SIP
// callee's UA is needed, to refuse the unknown user), then the caller.
func (x *execution) setup(ctx context.Context) error {
	tag := newToken()[:8]
	if x.s.Expect != Unknown || x.s.Callee.Dialect == SIP {
		a, err := x.newAgent(ctx, x.s.Callee, roleCallee, "callee-"+tag)
		if err != nil {
			return &failure{reason: "starting the callee " + x.s.Callee.String(), err: err}
		}
		x.callee = a
	}
	a, err := x.newAgent(ctx, x.s.Caller, roleCaller, "caller-"+tag)
	if err != nil {
		return &failure{reason: "starting the caller " + x.s.Caller.String(), err: err}
	}
	x.caller = a
	if p, ok := x.callee.(preparer); ok {
		if err := p.Prepare(ctx, x.caller); err != nil {
			return &failure{reason: "preparing the callee " + x.s.Callee.String(), err: err}
		}
	}
	return nil
}

// preparer is a callee with something to do once the caller exists (a
// StanzaJS callee subscribes to the caller's gateway JID).
type preparer interface {
	Prepare(ctx context.Context, caller Agent) error
}

// expectRefused waits for the gateway to refuse the call, and checks that
// the callee never heard of it.
func (x *execution) expectRefused(ctx context.Context) error {
	if err := x.expectEnd(ctx, x.caller, "caller", 0); err != nil {
		return err
	}
	if _, ok := x.callee.Events().Find(0, EvIncoming); ok {
		return failf("the callee got the call the gateway refused")
	}
	return nil
}

func (x *execution) newAgent(ctx context.Context, p Party, r role, name string) (Agent, error) {
	if url, i := x.dep.nodeFor(x.s.Name, r); len(x.dep.WSNodes) > 1 && p.Dialect == Browser {
		x.tr.Add(r.String(), "note", fmt.Sprintf("browser user on node %d (%s)", i+1, url))
		x.nodes[r] = url
	}
	return newAgent(ctx, agentOptions{dep: x.dep.forParty(x.s.Name, r), party: p, role: r, name: "interop-" + name, label: name,
		media: x.s.Media, expect: x.s.Expect, tr: x.tr, log: x.log.With("party", r.String())})
}

// alert waits for the call at the callee, lets it ring and waits for the
// ringing at the caller.
func (x *execution) alert(ctx context.Context) error {
	if err := x.waitIncoming(ctx); err != nil {
		return x.explain(ctx, &failure{reason: "the callee never got the call", err: err})
	}
	if err := x.callee.Ring(ctx); err != nil {
		return &failure{reason: "the callee could not send ringing", err: err}
	}
	if _, _, err := x.caller.Events().Wait(ctx, 0, is(EvRinging, EvEnded)); err != nil {
		return &failure{reason: "the caller never saw ringing", err: err}
	}
	if _, ok := x.caller.Events().Find(0, EvRinging); !ok {
		return x.explain(ctx, failf("the caller was hung up before ringing"))
	}
	x.t.Ringing = x.since()
	return nil
}

// waitIncoming waits for the call at the callee, giving up early when the
// caller is hung up first (refused by the gateway or by its own stack).
func (x *execution) waitIncoming(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		if _, _, err := x.caller.Events().Wait(wctx, 0, is(EvEnded)); err == nil {
			cancel()
		}
	}()
	_, _, err := x.callee.Events().Wait(wctx, 0, is(EvIncoming))
	if err != nil && ctx.Err() == nil {
		return errors.New("the caller was hung up first")
	}
	return err
}

// finish follows the flow of the expected outcome after ringing.
func (x *execution) finish(ctx context.Context) error {
	switch x.s.Expect {
	case Busy, Declined:
		if err := x.callee.Reject(ctx, x.s.Expect); err != nil {
			return &failure{reason: "the callee could not refuse the call", err: err}
		}
		return x.expectEnd(ctx, x.caller, "caller", 0)
	case Cancelled:
		if err := x.caller.HangUp(ctx); err != nil {
			return &failure{reason: "the caller could not cancel", err: err}
		}
		return x.expectEnd(ctx, x.callee, "callee", 0)
	case NoAnswer:
		if err := x.expectEnd(ctx, x.caller, "caller", 0); err != nil {
			return err
		}
		return x.expectAnyEnd(ctx, x.callee, "callee")
	}
	return x.answered(ctx)
}

// answered runs an answered call: answer, media, steps, then the end.
func (x *execution) answered(ctx context.Context) error {
	if err := x.callee.Answer(ctx); err != nil {
		return &failure{reason: "the callee could not answer", err: err}
	}
	if _, _, err := x.caller.Events().Wait(ctx, 0, is(EvAnswered, EvEnded)); err != nil {
		return &failure{reason: "the caller never got the answer", err: err}
	}
	if _, ok := x.caller.Events().Find(0, EvAnswered); !ok {
		return x.explain(ctx, failf("the caller was hung up instead of answered"))
	}
	x.t.Answer = x.since()
	if err := x.waitMedia(ctx, nil); err != nil {
		return err
	}
	x.t.Media = x.since()
	for _, st := range x.s.Steps {
		if err := x.step(ctx, st); err != nil {
			return err
		}
	}
	if x.s.Expect == Vanished {
		if err := x.callee.Vanish(); err != nil {
			x.log.Debug("vanish", "err", err)
		}
		return x.expectVanished(ctx)
	}
	if x.s.CalleeHangsUp {
		if err := x.callee.HangUp(ctx); err != nil {
			return &failure{reason: "the callee could not hang up", err: err}
		}
		return x.expectEnd(ctx, x.caller, "caller", 0)
	}
	if err := x.caller.HangUp(ctx); err != nil {
		return &failure{reason: "the caller could not hang up", err: err}
	}
	return x.expectEnd(ctx, x.callee, "callee", 0)
}

// linger keeps the call up for three dialog probe intervals of the
// deployment: nobody may be hung up, and media must still flow after.
func (x *execution) linger(ctx context.Context) error {
	before, err := x.reports(ctx)
	if err != nil {
		return err
	}
	d := 3 * x.dep.probeInterval()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return &failure{reason: "lingering in the call", err: ctx.Err()}
	}
	if x.anyEnded() {
		return x.explain(ctx, failf("the call did not stay up for %s (three dialog probe intervals)", d))
	}
	return x.waitMedia(ctx, &before)
}

// expectVanished waits for the gateway to notice the vanished callee
// (Deployment.VanishTimeout) and hang up the caller.
func (x *execution) expectVanished(ctx context.Context) error {
	d := x.dep.vanishTimeout()
	vctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if _, _, err := x.caller.Events().Wait(vctx, 0, is(EvEnded)); err != nil {
		return &failure{reason: fmt.Sprintf("the caller was not hung up within %s of the callee vanishing", d), err: err}
	}
	return x.expectAnyEnd(ctx, x.caller, "caller")
}

// expectEnd waits for the gateway to end the call at agent a with the
// outcome's reason.
func (x *execution) expectEnd(ctx context.Context, a Agent, who string, from int) error {
	e, _, err := a.Events().Wait(ctx, from, is(EvEnded))
	if err != nil {
		return &failure{reason: fmt.Sprintf("the %s was never hung up (want %s)", who, wantReason(x.s.Expect)), err: err}
	}
	x.ended = fmt.Sprintf("%s got %s/%d", who, e.Reason, e.Code)
	if want := expectedReason[x.s.Expect]; want != "" && e.Reason != want {
		return failf("the %s was hung up with %s/%d, want %s%s", who, e.Reason, e.Code, want, errorsSeen(a))
	}
	x.t.End = x.since()
	return nil
}

// expectAnyEnd waits for the call to end at a, whatever the reason.
func (x *execution) expectAnyEnd(ctx context.Context, a Agent, who string) error {
	e, _, err := a.Events().Wait(ctx, 0, is(EvEnded))
	if err != nil {
		return &failure{reason: "the " + who + " was never hung up", err: err}
	}
	if x.ended == "" {
		x.ended = fmt.Sprintf("%s got %s/%d", who, e.Reason, e.Code)
	}
	x.t.End = x.since()
	return nil
}

func wantReason(o Outcome) string {
	if r := expectedReason[o]; r != "" {
		return r
	}
	return "any reason"
}

// errorsSeen lists the error events of a, for a failure reason.
func errorsSeen(a Agent) string {
	var errs []string
	for _, e := range a.Events().All() {
		if e.Kind == EvError {
			errs = append(errs, e.String())
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return " (errors: " + strings.Join(errs, "; ") + ")"
}

// explain adds what the agents saw to a failure: an early hang-up or an
// error from the gateway is the likely cause.
func (x *execution) explain(_ context.Context, err error) error {
	var seen []string
	for who, a := range map[string]Agent{"caller": x.caller, "callee": x.callee} {
		if a == nil {
			continue
		}
		for _, e := range a.Events().All() {
			if e.Kind == EvEnded || e.Kind == EvError {
				seen = append(seen, who+" got "+e.String())
			}
		}
	}
	if len(seen) == 0 {
		return err
	}
	slices.Sort(seen)
	return &failure{reason: fmt.Sprintf("%s [%s]", reasonOf(err), strings.Join(seen, "; "))}
}

// step runs one in-call step.
func (x *execution) step(ctx context.Context, st Step) error {
	switch st {
	case Hold:
		return x.renegotiate(ctx, "sendonly", []string{"recvonly", "inactive"}, false)
	case Resume:
		return x.renegotiate(ctx, "sendrecv", []string{"sendrecv"}, true)
	case Linger:
		return x.linger(ctx)
	case Tones:
		return x.tones(ctx)
	case SignalDTMF:
		return x.signalDTMF(ctx)
	}
	return failf("unknown step %q", st)
}

// renegotiate re-offers with every stream in dir and checks what the
// callee got and what the caller got back; with media, packets must flow
// again afterwards.
func (x *execution) renegotiate(ctx context.Context, dir string, answers []string, media bool) error {
	before, err := x.reports(ctx)
	if err != nil {
		return err
	}
	cm, em := x.caller.Events().Len(), x.callee.Events().Len()
	if err := x.caller.Reoffer(ctx, dir); err != nil {
		return &failure{reason: "the caller could not re-offer " + dir, err: err}
	}
	got, _, err := x.callee.Events().Wait(ctx, em, is(EvReoffer, EvEnded))
	if err != nil || got.Kind != EvReoffer {
		return x.explain(ctx, &failure{reason: "the callee never got the " + dir + " re-offer", err: err})
	}
	if !allDirections(got.Detail, []string{dir}) {
		return failf("the callee got a re-offer with directions %q, want %s", got.Detail, dir)
	}
	back, _, err := x.caller.Events().Wait(ctx, cm, is(EvReanswered, EvEnded))
	if err != nil || back.Kind != EvReanswered {
		return x.explain(ctx, &failure{reason: "the caller never got the answer to its " + dir + " re-offer", err: err})
	}
	if !allDirections(back.Detail, answers) {
		return failf("the answer to the %s re-offer has directions %q, want %s", dir, back.Detail, strings.Join(answers, " or "))
	}
	if !media {
		return nil
	}
	return x.waitMedia(ctx, &before)
}

// allDirections reports whether every direction in the list is one of want.
func allDirections(list string, want []string) bool {
	if list == "" {
		return false
	}
	for _, d := range strings.Split(list, ",") {
		if !slices.Contains(want, d) {
			return false
		}
	}
	return true
}
