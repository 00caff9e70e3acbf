package sip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// Calls to a registered user ("sip:alice@<our host or realm>") fork with
// gateway.Fork: one branch per live binding, each an outLeg (with its own
// Call-ID) on the branch's relay call, all INVITEd in parallel over their
// flows. The first 2xx wins and is the call's leg; the other branches get
// a Hangup with ReasonAnsweredElsewhere, which their outLeg turns into a
// CANCEL with Reason SIP;cause=200, or ACK and BYE for a 2xx that comes
// too late. When every branch fails, the call gets the best failure
// (gateway.BestFailure: 6xx, then 486, then another 4xx, else 480). A
// binding whose flow closes ends its branch (ReasonFlowClosed, 408). The
// caller's SIP call slot is taken once and given back when every branch's
// leg is over.

// ReasonAnsweredElsewhere ends the branches that lost the race
// (gateway.Fork's, here and across cluster nodes).
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
		if _, p, err := net.SplitHostPort(hp); err == nil && portIs(p, port) {
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
	release = shareRelease(release, len(bs))
	aor := sip.Uri{Scheme: "sip", User: user, Host: a.cfg.Realm}
	branches := make([]gateway.Branch, len(bs))
	for i, b := range bs {
		plan := egressPlan{route: &route{name: "registrar", transport: b.flow.transport}, ruri: b.contact, aor: &aor, flow: b.flow}
		branches[i] = gateway.Branch{Name: b.contact.String(), Dialer: a.bindingDialer(plan, release)}
	}
	a.log.Debug("forking call to registered contacts", "call", req.Call.ID(), "fork", user, "branches", len(bs))
	return gateway.Fork(ctx, req, branches)
}

// bindingDialer dials one binding: an outLeg on the branch's relay call,
// sent over the binding's flow. It never fails, so every branch's leg
// calls release once, when it is over.
func (a *Adapter) bindingDialer(plan egressPlan, release func()) gateway.Dialer {
	return gateway.DialerFunc(func(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
		l := newOutLeg(a, req, plan, release)
		l.start()
		return l, nil
	})
}

// shareRelease returns a release for n legs: release runs when the last
// of them called it.
func shareRelease(release func(), n int) func() {
	var left atomic.Int64
	left.Store(int64(n))
	return func() {
		if left.Add(-1) == 0 {
			release()
		}
	}
}
