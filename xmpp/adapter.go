package xmpp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"mellium.im/xmpp/jid"
)

// dialect is the adapter's name in logs and metrics.
const dialect = "xmpp"

// Adapter is the XMPP side of the gateway: one stream to an XMPP server (as
// a component or a client), the Jingle sessions on it, and the gateway.Dialer
// for "xmpp:" targets. Create it with New and run it with Run.
type Adapter struct {
	cfg     Config
	secret  string
	gw      *gateway.Gateway
	log     *slog.Logger
	metrics *gateway.Metrics
	addr    jid.JID // component domain, or the client account (bare)
	caps    string  // XEP-0115 ver of our disco#info
	// tlsConfig, when set (tests), forces STARTTLS in client mode with it.
	tlsConfig *tls.Config

	mu       sync.Mutex
	st       *stream // the live stream, nil while disconnected
	up       chan struct{}
	sessions map[sessKey]*session
	devices  *devices // presence and caps of users' devices (devices.go)

	store        DeviceStore   // where devices is mirrored (devicestore.go); nil: nowhere
	storeRefresh time.Duration // how often every entry is written again
}

// New checks cfg, resolves secrets from the environment and registers the
// adapter with gw's router for xmpp: targets. log and metrics may be nil.
// It returns ErrDisabled when cfg enables neither mode.
func New(cfg Config, gw *gateway.Gateway, log *slog.Logger, metrics *gateway.Metrics) (*Adapter, error) {
	cfg = cfg.withDefaults()
	secret, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{cfg: cfg, secret: secret, gw: gw, log: log.With("dialect", dialect), metrics: metrics,
		up: make(chan struct{}), sessions: map[sessKey]*session{}, devices: newDevices()}
	if a.addr, err = a.ownAddress(); err != nil {
		return nil, err
	}
	a.caps = capsVer()
	gw.Router().Handle(gateway.SchemeXMPP, a)
	return a, nil
}

func (a *Adapter) ownAddress() (jid.JID, error) {
	s := a.cfg.Component.Domain
	if !a.cfg.ComponentMode() {
		s = a.cfg.Client.JID
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: %q: %w", ErrConfig, s, err)
	}
	return j.Bare(), nil
}

// Address is the adapter's own JID: the component domain or the account's
// bare JID.
func (a *Adapter) Address() jid.JID { return a.addr }

// Run connects to the server and serves the stream; when the stream ends it
// ends the calls that lived on it (connectivity-error on their other leg)
// and reconnects with exponential backoff, until ctx is done. It returns nil
// once ctx is done.
func (a *Adapter) Run(ctx context.Context) error {
	if a.store != nil {
		a.devices.forgetDirty() // changes left from an earlier term are stale: the store wins
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); a.writeDevices(wctx) }()
		defer func() { cancel(); <-done }()
	}
	delay := backoffMin
	for ctx.Err() == nil {
		started := time.Now()
		err := a.runOnce(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(started) > stableAfter {
			delay = backoffMin
		}
		wait := jitter(delay)
		a.log.Warn("xmpp stream ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		delay = min(delay*2, backoffMax)
	}
	return nil
}

func jitter(d time.Duration) time.Duration {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(n.Int64())
}

func (a *Adapter) runOnce(ctx context.Context) error {
	st, err := a.connect(ctx)
	if err != nil {
		return err
	}
	if a.store != nil {
		a.devices.setLoading(true)
	}
	a.attach(st)
	defer a.detach(st)
	if a.store != nil {
		go a.restoreDevices(ctx, st)
	}
	return st.serve(ctx)
}

func (a *Adapter) connect(ctx context.Context) (*stream, error) {
	if a.cfg.ComponentMode() {
		return a.dialComponent(ctx)
	}
	return a.dialClient(ctx)
}

func (a *Adapter) attach(st *stream) {
	a.mu.Lock()
	a.st = st
	close(a.up)
	a.mu.Unlock()
	a.metrics.Connection(dialect, 1)
	a.log.Info("xmpp stream up", "jid", st.local.String())
}

// detach forgets st and ends every session that lived on it.
func (a *Adapter) detach(st *stream) {
	a.mu.Lock()
	if a.st == st {
		a.st = nil
		a.up = make(chan struct{})
	}
	var lost []*session
	for _, s := range a.sessions {
		if s.st == st {
			lost = append(lost, s)
		}
	}
	a.mu.Unlock()
	a.metrics.Connection(dialect, -1)
	st.iqs.failAll()
	for _, s := range lost {
		s.post(evStreamLost{})
	}
	a.log.Info("xmpp stream down", "sessions_ended", len(lost))
}

// stream returns the live stream, or nil.
func (a *Adapter) stream() *stream {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// Connected reports whether a stream is up.
func (a *Adapter) Connected() bool { return a.stream() != nil }

// WaitConnected blocks until a stream is up or ctx is done.
func (a *Adapter) WaitConnected(ctx context.Context) error {
	a.mu.Lock()
	up := a.up
	a.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sessions returns the number of Jingle sessions and proposals in progress.
func (a *Adapter) Sessions() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sessions)
}

// sessKey identifies a session: its sid and the peer's bare JID (sids are
// chosen by initiators, so two peers may pick the same one).
type sessKey struct{ sid, peer string }

func keyOf(sid string, peer jid.JID) sessKey { return sessKey{sid: sid, peer: peer.Bare().String()} }

func (a *Adapter) addSession(s *session) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.sessions[s.key]; dup {
		return fmt.Errorf("%w: session %q exists", gateway.ErrGlare, s.key.sid)
	}
	if len(a.sessions) >= maxSessions {
		return fmt.Errorf("%w: %d sessions", gateway.ErrTooManyCalls, len(a.sessions))
	}
	a.sessions[s.key] = s
	return nil
}

func (a *Adapter) lookup(k sessKey) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[k]
}

func (a *Adapter) removeSession(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sessions[s.key] == s {
		delete(a.sessions, s.key)
	}
}

// ours reports whether a stanza addressed to j is for this adapter.
func (a *Adapter) ours(j jid.JID) bool {
	if a.cfg.ComponentMode() {
		return j.Domainpart() == a.addr.Domainpart()
	}
	return j.Bare().Equal(a.addr)
}

// newID returns a random UUIDv4, used for JMI ids, sids and stanza ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
