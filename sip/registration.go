package sip

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

const (
	registerTimeout = 5 * time.Second
	minBackoff      = time.Second
	maxBackoff      = 5 * time.Minute
	minRefresh      = time.Second
)

// errRegister reports a registrar's refusal.
var errRegister = errors.New("sip: registration refused")

// registration is the loop of one account; it runs on its own goroutine.
type registration struct {
	a      *Adapter
	acc    *account
	log    *slog.Logger
	callID string
	cseq   uint32
}

// startRegistrations starts one registration loop per account.
func (a *Adapter) startRegistrations() {
	for _, acc := range a.accounts {
		r := &registration{a: a, acc: acc, log: a.log.With("account", acc.name),
			callID: hex.EncodeToString(randomBytes(12)), cseq: uint32(rand.IntN(10000)) + 1}
		a.m.registered(acc.name, false)
		a.regs.Add(1)
		go r.run(a.ctx)
	}
}

// run registers, refreshes at 3/4 of the granted lifetime, and retries with
// exponential back-off (1 s to 5 min, jittered) after a failure. When ctx
// ends it unregisters.
func (r *registration) run(ctx context.Context) {
	defer r.a.regs.Done()
	defer r.recoverPanic()
	backoff := minBackoff
	for {
		wait := r.attempt(ctx, &backoff)
		select {
		case <-ctx.Done():
			r.unregister()
			return
		case <-time.After(wait):
		}
	}
}

func (r *registration) attempt(ctx context.Context, backoff *time.Duration) time.Duration {
	granted, err := r.register(ctx, r.acc.expires)
	if err != nil {
		r.a.m.registered(r.acc.name, false)
		wait := jitter(*backoff)
		*backoff = min(2**backoff, maxBackoff)
		r.log.Warn("registration failed", "err", err, "retry_in", wait.Round(time.Millisecond))
		return wait
	}
	*backoff = minBackoff
	r.a.m.registered(r.acc.name, true)
	r.log.Info("registered", "expires", granted)
	return max(granted*3/4, minRefresh)
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

func (r *registration) recoverPanic() {
	if p := recover(); p != nil {
		r.a.gm.Panic()
		r.log.Error("registration panicked", "panic", p)
	}
}

// unregister removes our binding (Expires: 0), best effort.
func (r *registration) unregister() {
	r.a.m.registered(r.acc.name, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := r.register(ctx, 0); err != nil {
		r.log.Debug("unregister failed", "err", err)
	}
}

// register sends one REGISTER (answering one digest challenge) and returns
// the lifetime the registrar granted.
func (r *registration) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	req := r.request(expires)
	res, err := r.do(ctx, req)
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) {
		if err := applyDigest(req, res, r.acc.authUser, r.acc.password); err != nil {
			return 0, err
		}
		r.next(req)
		res, err = r.do(ctx, req)
	}
	if err == nil && res.StatusCode == 423 {
		if me := minExpires(res); me > expires {
			return r.register(ctx, me)
		}
	}
	if err != nil {
		return 0, err
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("%w: %d %s", errRegister, res.StatusCode, res.Reason)
	}
	return grantedExpires(res, r.contact(registrarTransport(r.acc.registrar)).Address, expires), nil
}

func (r *registration) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	r.a.m.transaction("out", "REGISTER")
	r.a.gm.Message("sip", "out", "REGISTER")
	return r.a.cli.Do(ctx, req)
}

// request builds a REGISTER; Call-ID stays, CSeq grows (RFC 3261 §10.2).
func (r *registration) request(expires time.Duration) *sip.Request {
	reg := r.acc.registrar
	ruri := sip.Uri{Scheme: reg.Scheme, Host: reg.Host, Port: reg.Port}
	req := sip.NewRequest(sip.REGISTER, ruri)
	tr := registrarTransport(reg)
	req.SetTransport(tr)
	aor := sip.Uri{Scheme: "sip", User: r.acc.user, Host: r.acc.domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", newTag())
	callID := sip.CallIDHeader(r.callID)
	r.cseq++
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	req.AppendHeader(r.contact(tr))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
	req.AppendHeader(sip.NewHeader("User-Agent", r.a.cfg.UserAgent))
	r.a.fromListener(req, tr)
	return req
}

// next prepares req for its retry: new CSeq and Via branch.
func (r *registration) next(req *sip.Request) {
	r.cseq++
	req.CSeq().SeqNo = r.cseq
	req.RemoveHeader("Via")
}

func (r *registration) contact(tr string) *sip.ContactHeader {
	c := r.a.contact(tr)
	c.Address.User = r.acc.user
	return &c
}

func registrarTransport(u sip.Uri) string {
	if tr, ok := u.UriParams.Get("transport"); ok {
		if t, err := transportName(tr); err == nil && t != "" {
			return t
		}
	}
	if u.Scheme == "sips" {
		return "TLS"
	}
	return "UDP"
}

func minExpires(res *sip.Response) time.Duration {
	if h := res.GetHeader("Min-Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 && n < 86400 {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// grantedExpires reads the lifetime from the 200: our Contact's expires
// parameter, else the Expires header, else what we asked for.
func grantedExpires(res *sip.Response, ours sip.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if ok && c.Address.User == ours.User && c.Address.Host == ours.Host && c.Address.Port == ours.Port {
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// fromListener makes a UDP request leave from our listening socket, so the
// far end sees (and answers, and registers) the address we listen on.
func (a *Adapter) fromListener(req *sip.Request, transport string) {
	if transport == "UDP" && a.udpAddr.IsValid() {
		req.Laddr = sip.Addr{IP: net.IP(a.udpAddr.Addr().AsSlice()), Port: int(a.udpAddr.Port())}
	}
}
