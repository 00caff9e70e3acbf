package sip

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// Calls to a registered user ("sip:alice@<our host or realm>") fork: one
// outbound branch (an outLeg, with its own Call-ID) per live binding, all
// INVITEd in parallel over their flows. The first 2xx wins and is the
// call's leg; the other branches get CANCEL, or ACK and BYE for a 2xx that
// comes too late. When every branch fails, the call gets the best failure
// (6xx, then 486, then another 4xx, else 480).

// ReasonAnsweredElsewhere ends the branches that lost the race (here, and
// on a cluster the gateway's fork across nodes: gateway.Fork).
var ReasonAnsweredElsewhere = gateway.ReasonAnsweredElsewhere

// localUser reports whether t names this gateway ("sip:user@host" with our
// host or realm, and no port or one of ours), and returns the user.
func (a *Adapter) localUser(t gateway.Target) (string, bool) {
	if t.Scheme != gateway.SchemeSIP {
		return "", false
	}
	host, port, err := splitHostPort(t.Host)
	if err != nil {
		return "", false
	}
	if a.isSelf(host, port) {
		return t.User, true
	}
	if !strings.EqualFold(host, a.cfg.Host) && !strings.EqualFold(host, a.cfg.Realm) {
		return "", false
	}
	return t.User, port == 0 || a.isOurPort(port)
}

func (a *Adapter) isOurPort(port int) bool {
	for _, hp := range a.selfAddrs() {
		if _, p, err := net.SplitHostPort(hp); err == nil && p == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// checkLocal is the egress policy for targets on this gateway: only
// registrar users (InboundUsers) may be called.
func (a *Adapter) checkLocal(user string) error {
	if err := checkDialUser(user); err != nil {
		return err
	}
	if _, ok := a.users[user]; !ok {
		return forbidden("target is this gateway")
	}
	return nil
}

// dialRegistered forks a call to every live binding of user.
func (a *Adapter) dialRegistered(ctx context.Context, req gateway.DialRequest, user string) (gateway.Leg, error) {
	if err := a.checkLocal(user); err != nil {
		a.m.deny("out", "policy")
		return nil, err
	}
	bs := a.reg.live(user, time.Now())
	if len(bs) == 0 {
		return nil, fmt.Errorf("%w: %s has no registered contact", gateway.ErrOffline, user)
	}
	release, err := a.limits.acquire("out:" + req.From)
	if err != nil {
		a.m.deny("out", "limit")
		return nil, err
	}
	aor := sip.Uri{Scheme: "sip", User: user, Host: a.cfg.Realm}
	f := &forkLeg{a: a, call: req.Call, log: a.log.With("call", req.Call.ID(), "fork", user),
		failed: map[*outLeg]gateway.Reason{}}
	for _, b := range bs {
		plan := egressPlan{route: &route{name: "registrar", transport: b.flow.transport}, ruri: b.contact, aor: &aor, flow: b.flow}
		l := newOutLeg(a, req, plan, func() {})
		l.sink = f.fromBranch(l)
		f.branches = append(f.branches, l)
	}
	for _, l := range f.branches {
		l.start()
	}
	go f.releaseWhenDone(ctx, release)
	f.log.Debug("forking call to registered contacts", "branches", len(bs))
	return f, nil
}

// forkLeg is the call's leg for a forked call: it fans the bridge's events
// out to its branches until one answers, then relays the winner only.
type forkLeg struct {
	a        *Adapter
	call     *gateway.Call
	log      *slog.Logger
	branches []*outLeg

	mu     sync.Mutex
	winner *outLeg
	failed map[*outLeg]gateway.Reason
	rang   bool
	over   bool
}

// Kind implements gateway.Leg.
func (f *forkLeg) Kind() string { return "sip" }

// Caps implements gateway.Leg: like every SIP leg.
func (f *forkLeg) Caps() gateway.Caps { return gateway.Caps{} }

// Deliver implements gateway.Leg.
func (f *forkLeg) Deliver(ev gateway.Event) error {
	f.mu.Lock()
	w := f.winner
	var live []*outLeg
	for _, b := range f.branches {
		if _, gone := f.failed[b]; !gone {
			live = append(live, b)
		}
	}
	f.mu.Unlock()
	if w != nil {
		return w.Deliver(ev)
	}
	for _, b := range live {
		_ = b.Deliver(ev)
	}
	return nil
}

// releaseWhenDone frees the caller's call slot once every branch ended.
func (f *forkLeg) releaseWhenDone(_ context.Context, release func()) {
	for _, b := range f.branches {
		<-b.done
	}
	release()
}

// fromBranch is what branch b posts instead of posting to the call.
func (f *forkLeg) fromBranch(b *outLeg) func(gateway.Event) {
	return func(ev gateway.Event) {
		switch e := ev.(type) {
		case gateway.Ringing:
			f.ringing(e)
		case gateway.Answer:
			f.answered(b, e)
		case gateway.Hangup:
			f.branchEnded(b, e)
		default:
			if f.isWinner(b) {
				f.post(ev)
			}
		}
	}
}

func (f *forkLeg) post(ev gateway.Event) { _ = f.call.Post(f, ev) }

func (f *forkLeg) isWinner(b *outLeg) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.winner == b
}

func (f *forkLeg) ringing(e gateway.Ringing) {
	f.mu.Lock()
	first := !f.rang && f.winner == nil && !f.over
	f.rang = true
	f.mu.Unlock()
	if first {
		f.post(e)
	}
}

// answered: the first 2xx wins, the others are cancelled; an answer from
// a branch that lost (a late 2xx) is hung up (ACK and BYE).
func (f *forkLeg) answered(b *outLeg, e gateway.Answer) {
	f.mu.Lock()
	switch {
	case f.winner == b:
		f.mu.Unlock()
		f.post(e)
		return
	case f.winner != nil || f.over:
		f.mu.Unlock()
		_ = b.Deliver(gateway.Hangup{Reason: ReasonAnsweredElsewhere})
		return
	}
	f.winner = b
	var losers []*outLeg
	for _, o := range f.branches {
		if _, gone := f.failed[o]; o != b && !gone {
			losers = append(losers, o)
		}
	}
	f.mu.Unlock()
	f.log.Debug("fork answered", "losers", len(losers))
	for _, o := range losers {
		_ = o.Deliver(gateway.Hangup{Reason: ReasonAnsweredElsewhere})
	}
	f.post(e)
}

// branchEnded: the winner's hang-up ends the call; a loser's is recorded,
// and when every branch failed the call gets the best failure.
func (f *forkLeg) branchEnded(b *outLeg, e gateway.Hangup) {
	f.mu.Lock()
	if f.winner == b {
		f.mu.Unlock()
		f.post(e)
		return
	}
	if f.winner != nil || f.over {
		f.mu.Unlock()
		return
	}
	f.failed[b] = e.Reason
	if len(f.failed) < len(f.branches) {
		f.mu.Unlock()
		return
	}
	f.over = true
	r := bestFailure(f.failed)
	f.mu.Unlock()
	f.post(gateway.Hangup{Reason: r})
}

// bestFailure picks the reason the caller sees when every branch failed
// (gateway.BestFailure, after RFC 3261 §16.7: 6xx, then busy, then other
// 4xx, else 480).
func bestFailure(rs map[*outLeg]gateway.Reason) gateway.Reason {
	return gateway.BestFailure(slices.Collect(maps.Values(rs)))
}
