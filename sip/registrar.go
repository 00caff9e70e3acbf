package sip

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// The registrar (RFC 3261 §10.3) lets InboundUsers register contacts over
// any transport after a digest challenge. The AOR is the authenticated
// user, never the To header alone: a REGISTER whose To user differs is
// refused (403). Each binding is tied to the flow (flow.go) the REGISTER
// came in on; calls to the user leave over that flow, and a binding whose
// connection closes is dropped at once.

const (
	maxBindingsPerUser = 10
	maxContactLen      = 512
	registrarSweep     = time.Second
	// REGISTERs per source address and second (burst registerBurst); more
	// get 503 before any digest work.
	registerRate  = 10
	registerBurst = 50
)

// binding is one registered contact of a user.
type binding struct {
	contact  sip.Uri
	instance string // +sip.instance and reg-id (RFC 5626 §6), or ""
	flow     flow
	callID   string
	cseq     uint32
	expires  time.Time
}

func (b *binding) key() string {
	if b.instance != "" {
		return "i:" + b.instance
	}
	return "u:" + strings.ToLower(b.contact.String())
}

// contactChange is one Contact of a REGISTER.
type contactChange struct {
	b      binding
	expiry time.Duration // 0 removes the binding
}

// registrar holds the bindings of every user. Safe for concurrent use.
type registrar struct {
	mu     sync.Mutex
	users  map[string][]*binding
	gauge  prometheus.Gauge
	notify *presenceQueue // WatchBindings (bindingwatch.go), or nil
}

func newRegistrar(g prometheus.Gauge) *registrar {
	return &registrar{users: map[string][]*binding{}, gauge: g}
}

// live returns copies of user's unexpired bindings.
func (r *registrar) live(user string, now time.Time) []binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []binding
	for _, b := range r.users[user] {
		if b.expires.After(now) {
			out = append(out, *b)
		}
	}
	return out
}

// apply performs one REGISTER's changes atomically: either all of them or,
// for an out-of-order CSeq or too many bindings, none (code != 0).
func (r *registrar) apply(user string, changes []contactChange, now time.Time) (code int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make([]*binding, 0, len(r.users[user])+len(changes))
	for _, b := range r.users[user] {
		if b.expires.After(now) {
			c := *b
			next = append(next, &c)
		}
	}
	touched := map[string]bool{} // a contact listed twice is not out of order
	for _, ch := range changes {
		key := ch.b.key()
		i := findBinding(next, key)
		if i >= 0 && !touched[key] && next[i].callID == ch.b.callID && ch.b.cseq <= next[i].cseq {
			return 500, "Out Of Order REGISTER"
		}
		touched[key] = true
		switch {
		case ch.expiry == 0 && i >= 0:
			next = append(next[:i], next[i+1:]...)
		case ch.expiry == 0:
		case i >= 0:
			nb := ch.b
			nb.expires = now.Add(ch.expiry)
			next[i] = &nb
		default:
			nb := ch.b
			nb.expires = now.Add(ch.expiry)
			next = append(next, &nb)
		}
	}
	if len(next) > maxBindingsPerUser {
		return 403, "Too Many Contacts"
	}
	r.set(user, next)
	return 0, ""
}

func findBinding(bs []*binding, key string) int {
	for i, b := range bs {
		if b.key() == key {
			return i
		}
	}
	return -1
}

// removeAll is "Contact: *" with "Expires: 0".
func (r *registrar) removeAll(user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set(user, nil)
}

// set replaces user's bindings; r.mu is held.
func (r *registrar) set(user string, bs []*binding) {
	if before := len(r.users[user]) > 0; r.notify != nil && before != (len(bs) > 0) {
		r.notify.push(user, !before)
	}
	if len(bs) == 0 {
		delete(r.users, user)
	} else {
		r.users[user] = bs
	}
	r.updateGauge()
}

func (r *registrar) updateGauge() {
	n := 0
	for _, bs := range r.users {
		n += len(bs)
	}
	r.gauge.Set(float64(n))
}

// dropFlow removes the bindings on a closed connection; it returns how many.
func (r *registrar) dropFlow(f flow) int {
	return r.filter(func(b *binding) bool { return b.flow != f })
}

// sweep removes expired bindings.
func (r *registrar) sweep(now time.Time) int {
	return r.filter(func(b *binding) bool { return b.expires.After(now) })
}

// filter keeps the bindings for which keep is true; it returns how many
// it removed.
func (r *registrar) filter(keep func(*binding) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	removed := 0
	for user, bs := range r.users {
		kept := bs[:0:0]
		for _, b := range bs {
			if keep(b) {
				kept = append(kept, b)
			}
		}
		if len(kept) != len(bs) {
			removed += len(bs) - len(kept)
			r.set(user, kept)
		}
	}
	if removed > 0 {
		r.updateGauge()
	}
	return removed
}

// sweepLoop expires bindings until the adapter closes.
func (a *Adapter) sweepLoop() {
	defer a.wg.Done()
	t := time.NewTicker(registrarSweep)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			a.reg.sweep(now)
		case <-a.ctx.Done():
			return
		}
	}
}

// onRegister is the registrar: digest, the AOR check, the contacts, then
// 200 with the user's current bindings.
func (a *Adapter) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if len(a.users) == 0 {
		a.reply(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
		return
	}
	if !a.registerAllowed(req) {
		a.m.deny("in", "limit")
		rej := a.unavailable("limit")
		a.reply(req, tx, rej.code, rej.reason, rej.hdrs...)
		return
	}
	user, stale, ok := a.checkDigest(req)
	if !ok {
		rej := a.challenge(stale)
		a.reply(req, tx, rej.code, rej.reason, rej.hdrs...)
		return
	}
	if to := req.To(); to == nil || to.Address.User != user {
		a.log.Info("REGISTER for another user refused", "user", user, "source", req.Source())
		a.reply(req, tx, 403, "Forbidden", a.warning("To is not the authenticated user"))
		return
	}
	if rej := a.register(req, user); rej != nil {
		a.reply(req, tx, rej.code, rej.reason, rej.hdrs...)
		return
	}
	a.reply(req, tx, 200, "OK", a.bindingHeaders(user)...)
}

// aorOf is a digest user's address at our registrar: the identity of its
// calls, so that calling back reaches its registered contacts.
func (a *Adapter) aorOf(user string) string { return "sip:" + user + "@" + a.cfg.Realm }

// registerAllowed applies the per-source REGISTER rate.
func (a *Adapter) registerAllowed(req *sip.Request) bool {
	ip, _ := sourceAddr(req)
	release, err := a.regLimits.acquire(ip.String())
	if err != nil {
		return false
	}
	release()
	return true
}

// register applies the REGISTER's contacts to user's bindings.
func (a *Adapter) register(req *sip.Request, user string) *rejection {
	changes, star, rej := a.contactChanges(req)
	if rej != nil {
		return rej
	}
	if star {
		a.reg.removeAll(user)
		a.log.Info("sip user unregistered all contacts", "user", user)
		return nil
	}
	if code, reason := a.reg.apply(user, changes, time.Now()); code != 0 {
		return &rejection{code: code, reason: reason}
	}
	if len(changes) > 0 {
		a.log.Debug("sip registration", "user", user, "contacts", len(changes), "flow", requestFlow(req).String())
	}
	return nil
}

// contactChanges parses the REGISTER's Contact headers and lifetimes
// (RFC 3261 §10.3 steps 6-7). star is a valid "Contact: *".
func (a *Adapter) contactChanges(req *sip.Request) (changes []contactChange, star bool, rej *rejection) {
	hdrExp, hasHdr, err := expiresHeader(req)
	if err != nil {
		return nil, false, &rejection{code: 400, reason: "Bad Expires"}
	}
	contacts := req.GetHeaders("Contact")
	f, cseq := requestFlow(req), req.CSeq().SeqNo
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, false, &rejection{code: 400, reason: "Bad Contact"}
		}
		if c.Address.Host == "*" && c.Address.User == "" {
			if len(contacts) != 1 || !hasHdr || hdrExp != 0 {
				return nil, false, &rejection{code: 400, reason: "Bad Wildcard Contact"}
			}
			return nil, true, nil
		}
		ch, rej := a.contactChange(c, hdrExp, hasHdr)
		if rej != nil {
			return nil, false, rej
		}
		ch.b.flow, ch.b.callID, ch.b.cseq = f, req.CallID().Value(), cseq
		changes = append(changes, ch)
	}
	return changes, false, nil
}

func (a *Adapter) contactChange(c *sip.ContactHeader, hdrExp time.Duration, hasHdr bool) (contactChange, *rejection) {
	u := c.Address
	if (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" || len(u.String()) > maxContactLen ||
		checkHeaderValue(u.String()) != nil {
		return contactChange{}, &rejection{code: 400, reason: "Bad Contact"}
	}
	exp := a.cfg.RegistrarDefaultExpires
	if hasHdr {
		exp = hdrExp
	}
	if v, ok := c.Params.Get("expires"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return contactChange{}, &rejection{code: 400, reason: "Bad Contact Expires"}
		}
		exp = time.Duration(n) * time.Second
	}
	if exp > 0 && exp < a.cfg.RegistrarMinExpires {
		return contactChange{}, &rejection{code: 423, reason: "Interval Too Brief",
			hdrs: []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(int(a.cfg.RegistrarMinExpires.Seconds())))}}
	}
	exp = min(exp, a.cfg.RegistrarMaxExpires)
	return contactChange{b: binding{contact: *u.Clone(), instance: instanceKey(c)}, expiry: exp}, nil
}

// instanceKey is +sip.instance with reg-id (RFC 5626 §4.2): a UA that
// registers again with them replaces its binding, even from a new flow.
func instanceKey(c *sip.ContactHeader) string {
	inst, ok1 := c.Params.Get("+sip.instance")
	reg, ok2 := c.Params.Get("reg-id")
	if !ok1 || !ok2 || inst == "" {
		return ""
	}
	return inst + "\x00" + reg
}

func expiresHeader(req *sip.Request) (time.Duration, bool, error) {
	h := req.GetHeader("Expires")
	if h == nil {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, false, err
	}
	return time.Duration(n) * time.Second, true, nil
}

// bindingHeaders lists user's live bindings with their remaining lifetime.
func (a *Adapter) bindingHeaders(user string) []sip.Header {
	now := time.Now()
	bs := a.reg.live(user, now)
	sort.Slice(bs, func(i, j int) bool { return bs[i].expires.Before(bs[j].expires) })
	out := make([]sip.Header, 0, len(bs)+1)
	for _, b := range bs {
		secs := int((b.expires.Sub(now) + time.Second/2) / time.Second)
		out = append(out, sip.NewHeader("Contact", "<"+b.contact.String()+">;expires="+strconv.Itoa(secs)))
	}
	return out
}
