package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// cleanupTimeout bounds the tear-down of one scenario's agents.
const cleanupTimeout = 10 * time.Second

// Run runs the scenarios one after the other against dep and returns one
// result per scenario, in order. Once ctx ends, the scenarios not yet run
// fail with "interrupted".
func Run(ctx context.Context, dep Deployment, scenarios []Scenario) []Result {
	out := make([]Result, 0, len(scenarios))
	for _, s := range scenarios {
		if ctx.Err() != nil {
			r := newResult(s)
			r.Status, r.Reason = Fail, "interrupted before it ran"
			out = append(out, r)
			continue
		}
		out = append(out, RunOne(ctx, dep, s))
	}
	return out
}

// RunOne runs one scenario.
func RunOne(ctx context.Context, dep Deployment, s Scenario) Result {
	r := newResult(s)
	if err := s.Validate(); err != nil {
		r.Status, r.Reason = Fail, err.Error()
		return r
	}
	if reason := unsupported(dep, s); reason != "" {
		r.Status, r.Reason = Unsupported, reason
		return r
	}
	log := dep.logger().With("scenario", s.Name)
	start := time.Now()
	x := &execution{s: s, dep: dep, log: log, start: start, tr: NewTranscript(start, DefaultTranscriptLines)}
	sctx, cancel := context.WithTimeout(ctx, s.deadline(dep))
	err := x.run(sctx)
	if err == nil {
		err = x.verify(sctx)
	}
	cancel()
	x.collect(ctx, &r)
	x.close()
	r.Timings.Total = time.Since(start)
	x.judge(&r, err)
	r.Transcript = x.tr.Lines()
	return r
}

// judge sets the status and reason of a scenario that ran.
func (x *execution) judge(r *Result, err error) {
	switch {
	case err == nil:
		r.Status = Pass
		x.log.Info("scenario passed", "ttMedia", r.Timings.Media)
		return
	case x.s.NotBridged != "" && x.refusedByGateway():
		r.Status = Unsupported
		r.Reason = fmt.Sprintf("unsupported by this deployment: %s → %s: %s (the gateway refused the call: %s)",
			x.s.Caller.Dialect, x.s.Callee.Dialect, x.s.NotBridged, x.ended)
		x.log.Info("pair not bridged", "reason", r.Reason)
		return
	}
	r.Status, r.Reason = Fail, reasonOf(err)
	if k := x.s.Known; k != nil && strings.Contains(r.Reason, k.Match) {
		r.Status, r.Known = KnownFailure, k.Why
		x.log.Info("scenario failed as known", "reason", r.Reason, "known", k.Why)
		return
	}
	x.log.Info("scenario failed", "reason", r.Reason)
}

// refusedByGateway reports a call the gateway refused before the callee
// heard of it: the caller was hung up with 403 or decline.
func (x *execution) refusedByGateway() bool {
	if x.caller == nil {
		return false
	}
	if x.callee != nil {
		if _, ok := x.callee.Events().Find(0, EvIncoming); ok {
			return false
		}
	}
	e, ok := x.caller.Events().Find(0, EvEnded)
	if !ok || (e.Code != 403 && e.Reason != "decline") {
		return false
	}
	x.ended = fmt.Sprintf("caller got %s/%d", e.Reason, e.Code)
	return true
}

// verifier is an agent with a verdict of its own: SIPp checks that its
// scenario file ran to the end (every expected message, nothing
// unexpected).
type verifier interface {
	Verify(ctx context.Context) error
}

// verify asks the agents that judge themselves.
func (x *execution) verify(ctx context.Context) error {
	for _, a := range []Agent{x.caller, x.callee} {
		if v, ok := a.(verifier); ok {
			if err := v.Verify(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// unsupported returns why the deployment cannot run s, or "".
func unsupported(dep Deployment, s Scenario) string {
	for _, p := range []Party{s.Caller, s.Callee} {
		if err := dep.Supports(p); err != nil {
			return fmt.Sprintf("unsupported by this deployment: %s: %v", p, err)
		}
	}
	if s.Expect == Refused && dep.SIP != nil && dep.SIP.PlainRTP {
		return "unsupported by this deployment: it anchors plain-RTP offers through rtpengine instead of refusing them"
	}
	if x := dep.XMPP; x != nil {
		switch {
		case s.Caller.Dialect == Jingle && x.Caller.JID == "":
			return "unsupported by this deployment: jingle: no account for the Jingle caller (--xmpp)"
		case s.Callee.Dialect == Jingle && x.Callee.JID == "" && s.Expect != Unknown:
			return "unsupported by this deployment: jingle: no account for the Jingle callee (--xmpp-peer)"
		}
	}
	return ""
}

func (s Scenario) deadline(dep Deployment) time.Duration {
	d := s.Deadline
	if d <= 0 {
		d = DefaultDeadline
	}
	switch s.Expect {
	case NoAnswer:
		d += dep.ringTimeout()
	case Vanished:
		d += dep.vanishTimeout()
	}
	for _, st := range s.Steps {
		if st == Linger {
			d += 3 * dep.probeInterval()
		}
	}
	return d
}

// execution is the state of one running scenario; only the goroutine of
// RunOne touches it.
type execution struct {
	s      Scenario
	dep    Deployment
	log    *slog.Logger
	start  time.Time
	tr     *Transcript
	caller Agent
	callee Agent
	t      Timings
	ended  string
	dtmf   []string  // how the callee got each DTMF step's digits
	nodes  [2]string // per role: the WebSocket URL of a browser party's node, with several nodes
}

// since is the time since the first offer was sent.
func (x *execution) since() time.Duration { return time.Since(x.start) }

// collect copies the timings and the media counts into the result.
func (x *execution) collect(ctx context.Context, r *Result) {
	r.Timings, r.Ended = x.t, x.ended
	r.DTMF = strings.Join(x.dtmf, "; ")
	r.CallerNode, r.CalleeNode = x.nodes[roleCaller], x.nodes[roleCallee]
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	r.CallerMedia = mediaReport(rctx, x.caller)
	r.CalleeMedia = mediaReport(rctx, x.callee)
}

func mediaReport(ctx context.Context, a Agent) *MediaReport {
	if a == nil || a.Media() == nil {
		return nil
	}
	rep, err := a.Media().Report(ctx)
	if err != nil {
		return nil
	}
	return &rep
}

// close releases the agents, bounded by cleanupTimeout.
func (x *execution) close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, a := range []Agent{x.caller, x.callee} {
			if a != nil {
				if err := a.Close(); err != nil {
					x.log.Debug("closing agent", "err", err)
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(cleanupTimeout):
		x.log.Warn("agents did not close in time")
	}
}

// failure is an error whose text is the reason shown in reports.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string {
	if f.err == nil {
		return f.reason
	}
	return f.reason + ": " + f.err.Error()
}

func (f *failure) Unwrap() error { return f.err }

// failf makes a failure with a formatted reason.
func failf(format string, args ...any) error { return &failure{reason: fmt.Sprintf(format, args...)} }

// reasonOf renders an error as a report reason: timeouts say so plainly.
func reasonOf(err error) string {
	var f *failure
	if errors.As(err, &f) {
		if errors.Is(f.err, context.DeadlineExceeded) {
			return "timed out: " + f.reason
		}
		return f.Error()
	}
	return err.Error()
}
