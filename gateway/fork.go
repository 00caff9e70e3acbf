package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// A forked call rings its callee in several places at once (a SIP user
// registered at several cluster nodes): Fork dials every Branch with a
// relay call of its own (NewRelayCall) standing in for the real call, and
// returns one leg, the forkLeg, that the call's bridge sees as its callee.
// Until a branch answers, the bridge's events go to every live branch; the
// first Answer wins, the other branches get a Hangup with
// ReasonAnsweredElsewhere (SIP: CANCEL, or BYE after a late 2xx), and from
// then on only the winner is relayed. When every branch failed (a refused
// dial, a Hangup, a failed Deliver) the call gets the best failure
// (BestFailure, after RFC 3261 §16.7). The call's limits and its caller's
// call slot are the bridge's: taken once, whatever the number of branches.

// ReasonAnsweredElsewhere ends the branches of a forked call that lost the
// race (RFC 3326: SIP;cause=200 in a CANCEL).
var ReasonAnsweredElsewhere = Reason{Condition: CondCancel, Code: 487, Text: "Call completed elsewhere"}

// Branch is one way to reach a forked call's callee: Dialer creates the
// branch's leg. Name says where it goes (logs).
type Branch struct {
	Name   string
	Dialer Dialer
}

// RemoteLeg is a leg whose real leg lives on another cluster node (a
// cluster remote leg): RemoteNode names that node, "" when it is local
// after all. The call's end record and sigbridge_calls_total say whether
// the callee was remote.
type RemoteLeg interface {
	Leg
	RemoteNode() string
}

// Fork dials every branch at once for req (each with its own relay call
// posting into the fork) and returns the leg that stands for all of them
// in req.Call. A branch whose dial fails is one failed branch; when every
// dial fails, Fork returns the best of their errors. With one branch it
// is still a fork (callers dial a single place directly).
func Fork(ctx context.Context, req DialRequest, branches []Branch) (Leg, error) {
	if len(branches) == 0 {
		return nil, fmt.Errorf("%w: nowhere to ring", ErrOffline)
	}
	log := req.Call.logger()
	base := log // what NewRelayCall adds the call's attributes to
	if req.Call.g != nil {
		base = req.Call.g.log
	}
	f := &forkLeg{call: req.Call}
	for _, b := range branches {
		br := &forkBranch{f: f, name: b.Name}
		br.rc = NewRelayCall(req.Call.ID(), req.From, req.Target,
			lazylog.WithAttrs(base, slog.String("branch", b.Name)), Relay{Post: br.post, Hangup: br.hangup})
		f.branches = append(f.branches, br)
	}
	errs := make([]error, len(branches))
	var wg sync.WaitGroup
	for i, b := range branches {
		br := f.branches[i]
		wg.Go(func() {
			leg, err := b.Dialer.Dial(ctx, DialRequest{Call: br.rc, From: req.From, Target: req.Target, Offer: req.Offer})
			if err != nil {
				errs[i] = fmt.Errorf("branch %s: %w", b.Name, err)
				return
			}
			f.mu.Lock()
			br.leg = leg
			f.mu.Unlock()
		})
	}
	wg.Wait()
	if err := f.settleDials(errs); err != nil {
		return nil, err
	}
	go f.endRelaysWhenDone()
	log.Debug("call forked", "branches", len(branches), "ringing", f.live())
	return f, nil
}

// forkLeg is the callee leg of a forked call.
type forkLeg struct {
	call     *Call
	branches []*forkBranch // fixed after Fork

	// dmu orders deliveries to the branches' legs: one at a time, as from
	// a bridge. It is never taken with mu held, and events the branches
	// post never wait for it (they hand deliveries to a goroutine).
	dmu sync.Mutex

	mu     sync.Mutex
	winner *forkBranch
	rang   bool
	over   bool // the call ended, or every branch failed
}

// forkBranch is one branch: its relay call, its leg once dialed, and how
// it failed.
type forkBranch struct {
	f      *forkLeg
	name   string
	rc     *Call
	leg    Leg    // nil until dialed, and when the dial failed
	failed bool   // guarded by f.mu
	reason Reason // why it failed
	closed bool   // guarded by f.dmu: a Hangup was delivered, nothing more goes
}

// settleDials records the failed dials: an error when none succeeded.
func (f *forkLeg) settleDials(errs []error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var failed []error
	for i, b := range f.branches {
		if errs[i] == nil {
			continue
		}
		code, cond := Status(errs[i])
		b.failed, b.reason = true, Reason{Condition: cond, Code: code, Text: errs[i].Error()}
		b.rc.EndRelay()
		failed = append(failed, errs[i])
	}
	if len(failed) < len(f.branches) {
		return nil
	}
	f.over = true
	return bestError(failed)
}

// bestError is the error of a fork whose every dial failed: the best
// ranked (BestFailure's order), else offline.
func bestError(errs []error) error {
	best, rank := -1, 0
	for i, err := range errs {
		code, _ := Status(err)
		if r := failureRank(code); best < 0 || r > rank {
			best, rank = i, r
		}
	}
	if rank == 0 {
		return fmt.Errorf("%w: no branch answered: %w", ErrOffline, errors.Join(errs...))
	}
	return errs[best]
}

// failureRank orders final failures after RFC 3261 §16.7: 6xx, then busy
// (486), then another 4xx (but 408, 480 and 487, which say nothing about
// the callee), else nothing worth telling.
func failureRank(code int) int {
	switch {
	case code >= 600:
		return 4
	case code == 486:
		return 3
	case code >= 400 && code < 500 && code != 408 && code != 480 && code != 487:
		return 2
	}
	return 0
}

// BestFailure is the reason a caller sees when every branch of a forked
// call failed: the best ranked (6xx, then 486, then another 4xx), else
// 480 (temporarily unavailable).
func BestFailure(rs []Reason) Reason {
	var best Reason
	for _, r := range rs {
		if best.Condition == "" || failureRank(r.Code) > failureRank(best.Code) {
			best = r
		}
	}
	if failureRank(best.Code) == 0 {
		return ReasonFromSIP(480)
	}
	return best
}

// live counts the branches not failed.
func (f *forkLeg) live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, b := range f.branches {
		if !b.failed {
			n++
		}
	}
	return n
}

// endRelaysWhenDone ends every branch's relay call with the call.
func (f *forkLeg) endRelaysWhenDone() {
	<-f.call.Done()
	for _, b := range f.branches {
		b.rc.EndRelay()
	}
}

// Kind implements Leg: the branches' kind when they share one (the
// winner's once answered), else "fork".
func (f *forkLeg) Kind() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.winner != nil {
		return f.winner.leg.Kind()
	}
	kind := ""
	for _, b := range f.branches {
		if b.leg == nil {
			continue
		}
		if k := b.leg.Kind(); kind == "" {
			kind = k
		} else if k != kind {
			return "fork"
		}
	}
	return kind
}

// Caps implements Leg: what every branch can do, so that whichever wins
// gets what it understands (a non-trickling branch makes the bridge
// gather for all).
func (f *forkLeg) Caps() Caps {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, first := Caps{}, true
	for _, b := range f.branches {
		if b.leg == nil {
			continue
		}
		bc := b.leg.Caps()
		if first {
			c, first = bc, false
			continue
		}
		c.Trickle = c.Trickle && bc.Trickle
		c.MDNS = c.MDNS && bc.MDNS
		c.ReadsSDP = c.ReadsSDP && bc.ReadsSDP
		c.GivesSDP = c.GivesSDP && bc.GivesSDP
	}
	return c
}

// RemoteNode implements RemoteLeg: the winner's node; before an answer
// (an unanswered call's end), the nodes of the remote branches.
func (f *forkLeg) RemoteNode() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.winner != nil {
		return remoteNode(f.winner.leg)
	}
	var nodes []string
	for _, b := range f.branches {
		if n := remoteNode(b.leg); n != "" && !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	return strings.Join(nodes, ",")
}

func remoteNode(l Leg) string {
	if r, ok := l.(RemoteLeg); ok {
		return r.RemoteNode()
	}
	return ""
}

// Deliver implements Leg: before an answer the event goes to every live
// branch (a branch whose delivery fails has failed); after it, to the
// winner only, whose failure is the call's.
func (f *forkLeg) Deliver(ev Event) error {
	f.mu.Lock()
	w, over := f.winner, f.over
	var live []*forkBranch
	if w == nil {
		for _, b := range f.branches {
			if !b.failed {
				live = append(live, b)
			}
		}
	}
	_, final := ev.(Hangup)
	if final {
		f.over = true
	}
	f.mu.Unlock()
	if w != nil {
		err := f.deliver(w, ev)
		if final {
			w.rc.EndRelay()
		}
		return err
	}
	if over && !final {
		return nil
	}
	for _, b := range live {
		err := f.deliver(b, ev)
		if final || err != nil {
			b.rc.EndRelay()
		}
		if err != nil && !final {
			f.branchFailed(b, Reason{Condition: CondConnectivityError, Code: 480, Text: err.Error()}, false)
		}
	}
	return nil
}

// deliver hands ev to b's leg unless b was hung up already.
func (f *forkLeg) deliver(b *forkBranch, ev Event) (err error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if b.closed || b.leg == nil {
		return nil
	}
	if _, final := ev.(Hangup); final {
		b.closed = true
	}
	defer func() {
		if r := recover(); r != nil {
			f.call.logger().Error("fork branch leg panicked", "branch", b.name, "panic", fmt.Sprint(r))
			err = fmt.Errorf("branch %s: leg panicked", b.name)
		}
	}()
	return b.leg.Deliver(ev)
}

// cut hangs up branches that lost, off the poster's goroutine (a leg may
// post from inside its Deliver).
func (f *forkLeg) cut(bs ...*forkBranch) {
	if len(bs) == 0 {
		return
	}
	go func() {
		for _, b := range bs {
			_ = f.deliver(b, Hangup{Reason: ReasonAnsweredElsewhere})
			b.rc.EndRelay()
		}
	}()
}

// post hands an event to the call as the fork leg's.
func (f *forkLeg) post(ev Event) { _ = f.call.Post(f, ev) }

// post is branch b's Relay.Post: an event its leg posted.
func (b *forkBranch) post(ev Event) error {
	f := b.f
	switch e := ev.(type) {
	case Ringing:
		f.ringing(e)
	case Answer:
		f.answered(b, e)
	case Hangup:
		f.branchEnded(b, e)
	default:
		f.mu.Lock()
		won := f.winner == b
		f.mu.Unlock()
		if won {
			return f.call.Post(f, ev)
		}
	}
	return nil
}

// hangup is branch b's Relay.Hangup (its adapter shuts down): the branch
// is over; if it was the winner, so is the call.
func (b *forkBranch) hangup(r Reason) {
	_ = b.f.deliver(b, Hangup{Reason: r})
	b.rc.EndRelay()
	b.f.branchEnded(b, Hangup{Reason: r})
}

func (f *forkLeg) ringing(e Ringing) {
	f.mu.Lock()
	first := !f.rang && f.winner == nil && !f.over
	f.rang = true
	f.mu.Unlock()
	if first {
		f.post(e)
	}
}

// answered: the first answer wins and the other live branches are cut; a
// later answer (a branch that lost the race) is hung up.
func (f *forkLeg) answered(b *forkBranch, e Answer) {
	f.mu.Lock()
	switch {
	case f.winner == b:
		f.mu.Unlock()
		f.post(e)
		return
	case f.winner != nil || f.over || b.failed || b.leg == nil:
		f.mu.Unlock()
		f.cut(b)
		return
	}
	f.winner = b
	var losers []*forkBranch
	for _, o := range f.branches {
		if o != b && !o.failed {
			losers = append(losers, o)
		}
	}
	f.mu.Unlock()
	f.call.logger().Debug("fork answered", "branch", b.name, "cancelled", len(losers))
	f.post(e)
	f.cut(losers...)
}

// branchEnded: the winner's hang-up is the call's; another branch's is a
// failed branch.
func (f *forkLeg) branchEnded(b *forkBranch, e Hangup) {
	f.mu.Lock()
	if f.winner == b {
		f.mu.Unlock()
		f.post(e)
		b.rc.EndRelay()
		return
	}
	f.mu.Unlock()
	b.rc.EndRelay()
	f.branchFailed(b, e.Reason, true)
}

// branchFailed records b's failure; when no branch is left the call gets
// the best failure (posted from a goroutine of its own when the bridge's
// delivery found it: the bridge never waits on its own queue).
func (f *forkLeg) branchFailed(b *forkBranch, r Reason, fromBranch bool) {
	f.mu.Lock()
	if b.failed || f.winner != nil || f.over {
		b.failed = true
		f.mu.Unlock()
		return
	}
	b.failed, b.reason = true, r
	var rs []Reason
	for _, o := range f.branches {
		if !o.failed {
			f.mu.Unlock()
			return
		}
		rs = append(rs, o.reason)
	}
	f.over = true
	f.mu.Unlock()
	h := Hangup{Reason: BestFailure(rs)}
	f.call.logger().Debug("every fork branch failed", "reason", h.Reason.Code)
	if fromBranch {
		f.post(h)
		return
	}
	go f.post(h)
}
