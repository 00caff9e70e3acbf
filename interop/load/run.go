package load

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runner is one load run.
type runner struct {
	o             Options
	out           io.Writer // progress lines
	st            *stats
	offer, answer media
	callers       []*userConn
	callees       []*userConn
	hardStop      chan struct{} // closed when the drain ends or ctx is done
	stopOnce      sync.Once
	calls         sync.WaitGroup // placed calls
	incoming      sync.WaitGroup // answered incoming calls
	inFlight      atomic.Int64
}

// releaseDelay keeps a call's slot taken a little after its hang-up was
// sent, so that the gateway has ended the call before the slot is reused
// (the gateway counts a call until both legs ended).
const releaseDelay = 100 * time.Millisecond

// Run logs the users in, places calls at o.Rate until o.Duration or
// o.Calls, waits up to o.Drain for the calls in flight, hangs up what is
// left, closes every connection and returns the report. progress gets a
// line every o.Progress (nil: discarded). A cancelled ctx stops placing and ends the run
// at once (with the report so far).
func Run(ctx context.Context, o Options, progress io.Writer) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if progress == nil {
		progress = io.Discard
	}
	r := &runner{o: o, out: progress, st: newStats(), hardStop: make(chan struct{})}
	var err error
	if r.offer, r.answer, err = offerAnswer(o.Media); err != nil {
		return nil, err
	}
	defer r.closeAll()
	if err := r.logInAll(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "load: %d callers and %d answering callees logged in\n", len(r.callers), len(r.callees))
	if o.OnReady != nil {
		o.OnReady()
	}
	if err := sleepCtx(ctx, o.StartDelay); err != nil {
		return nil, err
	}
	rep := &Report{WS: o.WS, Target: o.Target, Users: o.Users, Callees: len(r.callees), Rate: o.Rate, HoldMS: o.Hold.Milliseconds(),
		Started: time.Now().UTC().Format(time.RFC3339)}
	start, self := time.Now(), readSelf()
	stopProgress := r.startProgress(start)
	if o.Users == 0 {
		r.answerOnly(ctx)
	} else {
		r.place(ctx, start)
	}
	rep.PlacingS = time.Since(start).Seconds()
	r.drain(ctx)
	stopProgress()
	rep.ElapsedS = time.Since(start).Seconds()
	rep.Self = readSelf().since(self)
	r.st.report(rep)
	return rep, nil
}

// logInAll logs in the answering callees first (they must be online
// before the first call), then the callers: 32 handshakes at a time, at
// most o.LoginRate per second when set.
func (r *runner) logInAll(ctx context.Context) error {
	if r.o.Answer {
		n := r.o.Users
		if n == 0 {
			n = r.o.AnswerUsers
		}
		cs, err := r.logIn(ctx, r.o.Target, n, true)
		r.callees = cs
		if err != nil {
			return err
		}
	}
	cs, err := r.logIn(ctx, r.o.UserPattern, r.o.Users, false)
	r.callers = cs
	return err
}

func (r *runner) logIn(ctx context.Context, pattern string, n int, callee bool) ([]*userConn, error) {
	conns := make([]*userConn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 32)
	pace := newPacer(r.o.LoginRate)
	var wg sync.WaitGroup
	for i := range n {
		if err := pace.wait(ctx); err != nil {
			errs[i] = err
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			c, err := r.dialOne(ctx, expand(pattern, i), i, callee)
			<-sem // the handshakes are bounded; the waits for the login are not
			if err == nil {
				if err = c.awaitLogin(ctx); err != nil {
					c.close()
					c = nil
				}
			}
			conns[i], errs[i] = c, err
		})
	}
	wg.Wait()
	var out []*userConn
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// dialOne opens user name's connection and sends its username.
func (r *runner) dialOne(ctx context.Context, name string, i int, callee bool) (*userConn, error) {
	tok, err := r.token(name)
	if err != nil {
		return nil, err
	}
	if r.o.Token != "" {
		if name, err = tokenSubject(tok); err != nil {
			return nil, err
		}
	}
	c, err := dial(ctx, r.o, name, tok)
	if err != nil {
		return nil, err
	}
	c.index = i
	c.onError = r.strayError
	if callee {
		c.onOffer = r.incomingCall
	}
	go c.readLoop()
	if err := c.sendUsername(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// pacer spaces logins at a rate (0: no pacing).
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	return &pacer{every: time.Duration(float64(time.Second) / rate), next: time.Now()}
}

func (p *pacer) wait(ctx context.Context) error {
	if p.every == 0 {
		return ctx.Err()
	}
	if d := time.Until(p.next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.next = p.next.Add(p.every)
	return nil
}

// strayError counts an error that belongs to no call in progress.
func (r *runner) strayError(m inMsg) {
	r.st.add(func(s *stats) { s.errors[fmt.Sprintf("%s ref=%s", reasonOf(m), m.Ref)]++ })
}

// place is the open-loop scheduler: call n is due at start + n/rate.
func (r *runner) place(ctx context.Context, start time.Time) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := 0
	for n := 0; r.o.Calls == 0 || n < r.o.Calls; n++ {
		due := time.Duration(float64(n) / r.o.Rate * float64(time.Second))
		if r.o.Duration > 0 && due >= r.o.Duration {
			return
		}
		if wait := time.Until(start.Add(due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		caller, callee, idx := r.pick(next, time.Now())
		if caller == nil {
			r.st.add(func(s *stats) { s.notPlaced++ })
			continue
		}
		next = idx + 1
		r.inFlight.Add(1)
		r.calls.Go(func() { r.call(caller, callee, "c"+strconv.Itoa(n)) })
	}
}

// pick finds, round robin from next, a caller (and with --answer its
// callee) with a free call slot and message budget.
func (r *runner) pick(next int, now time.Time) (caller, callee *userConn, idx int) {
	for i := range len(r.callers) {
		idx = (next + i) % len(r.callers)
		c := r.callers[idx]
		if !c.reserve(r.o, callerMessages, now) {
			continue
		}
		if r.callees == nil {
			return c, nil, idx
		}
		if ce := r.callees[c.index]; ce.reserve(r.o, calleeMessages, now) {
			return c, ce, idx
		}
		c.refund(callerMessages)
	}
	return nil, nil, 0
}

// call is one outgoing call: offer, candidates, wait for the answer, hold,
// hang up.
func (r *runner) call(u, callee *userConn, id string) {
	defer r.inFlight.Add(-1)
	ch := u.register(id)
	defer func() {
		u.unregister(id)
		time.AfterFunc(releaseDelay, func() {
			u.release()
			if callee != nil {
				callee.release()
			}
		})
	}()
	r.st.add(func(s *stats) { s.attempted++ })
	t0, err := u.sendMedia("video-offer", id, expand(r.o.Target, u.index), r.offer)
	if err != nil {
		r.st.fail("send failed: connection closed or stuck")
		return
	}
	t := time.NewTimer(r.o.SetupTimeout) // one timer per call: the setup timeout, then the hold
	defer t.Stop()
	if !r.awaitAnswer(u, id, ch, t0, t) {
		return
	}
	t.Reset(r.o.Hold)
	r.hold(u, id, ch, t)
}

// awaitAnswer waits for the call's video-answer and records the outcome.
// timeout fires at the setup timeout.
func (r *runner) awaitAnswer(u *userConn, id string, ch chan inMsg, t0 time.Time, timeout *time.Timer) bool {
	for {
		select {
		case m := <-ch:
			switch {
			case m.Type == "video-answer":
				r.st.answer(m.At.Sub(t0))
				return true
			case m.Type == "error" && m.Ref == "video-offer":
				r.st.refuse(reasonOf(m))
				return false
			case m.Type == "hang-up":
				r.st.fail(reasonOf(m))
				return false
			case m.Type == "error":
				r.strayError(m)
			}
		case <-timeout.C:
			r.st.fail(fmt.Sprintf("timeout: no answer within %s", r.o.SetupTimeout))
			_ = u.hangUp(id)
			return false
		case <-u.closed:
			r.st.fail("connection closed")
			return false
		case <-r.hardStop:
			r.st.fail("unfinished at drain end")
			_ = u.hangUp(id)
			return false
		}
	}
}

// hold keeps an answered call up until t fires (o.Hold), then hangs up.
func (r *runner) hold(u *userConn, id string, ch chan inMsg, t *time.Timer) {
	for {
		select {
		case m := <-ch:
			switch m.Type {
			case "hang-up":
				r.st.add(func(s *stats) { s.dropped[reasonOf(m)]++ })
				return
			case "error":
				r.strayError(m)
			}
		case <-t.C:
			_ = u.hangUp(id)
			return
		case <-r.hardStop:
			_ = u.hangUp(id)
			return
		case <-u.closed:
			r.st.add(func(s *stats) { s.dropped["connection closed"]++ })
			return
		}
	}
}

// incomingCall answers a call to an answering callee at once with the
// Chromium answer, its candidates and end-of-candidates. It runs on the
// connection's read loop and hands the work to a goroutine.
func (r *runner) incomingCall(u *userConn, m inMsg) {
	ch := u.register(m.CallID)
	r.st.add(func(s *stats) { s.offers++ })
	r.incoming.Go(func() {
		defer u.unregister(m.CallID)
		if _, err := u.sendMedia("video-answer", m.CallID, m.Name, r.answer); err != nil {
			return
		}
		r.st.add(func(s *stats) { s.answeredIn++ })
		for {
			select {
			case in := <-ch:
				if in.Type == "hang-up" {
					r.st.add(func(s *stats) { s.hungUpIn++ })
					return
				}
			case <-u.closed:
				return
			case <-r.hardStop:
				return
			}
		}
	})
}

// answerOnly keeps the callees online for o.Duration (SIP → browser runs).
func (r *runner) answerOnly(ctx context.Context) {
	select {
	case <-time.After(r.o.Duration):
	case <-ctx.Done():
	}
}

// drain waits for the calls in flight, at most o.Drain, then stops the
// rest (they hang up).
func (r *runner) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.calls.Wait(); close(done) }()
	t := time.NewTimer(r.o.Drain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	r.stop()
	<-done
}

func (r *runner) stop() { r.stopOnce.Do(func() { close(r.hardStop) }) }

// closeAll ends the incoming calls and closes every connection.
func (r *runner) closeAll() {
	r.stop()
	var wg sync.WaitGroup
	for _, c := range append(append([]*userConn{}, r.callers...), r.callees...) {
		wg.Go(c.close)
	}
	wg.Wait()
	r.incoming.Wait() // after the read loops ended: no incoming call starts any more
}

// startProgress prints a progress line every o.Progress; the returned
// function stops it.
func (r *runner) startProgress(start time.Time) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.o.Progress)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintln(r.out, r.st.progress(time.Since(start), int(r.inFlight.Load())))
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("load: %w", ctx.Err())
	}
}
