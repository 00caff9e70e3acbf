package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/rtpengine"
)

// Adapter is the SIP side of sigbridge: a B2BUA whose legs join gateway
// calls. Create it with New, then Start it.
type Adapter struct {
	cfg       Config
	gw        *gateway.Gateway
	log       *slog.Logger
	gm        *gateway.Metrics
	m         *metrics
	sockShed  socketShed    // INVITEs late in the UDP receive queue shed new calls (stale.go)
	invites   inviteMemo    // Call-IDs of the initial INVITEs sipgo took (retrans.go)
	accepted  *acceptedMemo // inbound legs' INVITEs, for retransmissions (timerl.go)
	routes    []*route
	trusted   []netip.Prefix
	users     map[string]string
	digestAl  []string // offered digest algorithms, most preferred first
	accounts  []*account
	nonceKey  []byte
	loopTok   string
	limits    *limiter
	regLimits *limiter // REGISTER rate per source address
	resolver  *net.Resolver
	dialogs   *dialogTable
	flows     *flowTable
	reg       *registrar
	anchors   *anchors // nil: no rtpengine configured (anchor.go)

	late       *lateTable     // our INVITEs, for 2xx that come after we gave up (late2xx.go)
	clientTxs  *clientTxTable // our client transactions over UDP (clienttx.go)
	serverTxs  *srvTxTable    // our server transactions over UDP (servertx.go)
	parser     *sip.Parser    // sipgo's, with our header parsers (parse.go)
	cancelWait time.Duration  // for the INVITE's final response after our CANCEL (64*T1; tests shorten it)

	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	cli      *sipgo.Client
	handlers map[sip.RequestMethod]sipgo.RequestHandler

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // listeners and legs
	regs   sync.WaitGroup // registration loops

	liveMu   sync.Mutex
	live     map[*legCore]struct{} // legs not yet finished (shutdown.go)
	stopping atomic.Bool           // Shutdown has begun

	mu        sync.Mutex
	started   bool
	dua       *sipgo.DialogUA
	udpAddr   netip.AddrPort
	udpConn   *net.UDPConn      // the UDP listener (ackwrite.go)
	addrs     map[string]string // transport -> bound address
	self      []string          // selfAddrs, made from selfOf addresses
	selfOf    int
	listeners []io.Closer
}

// loopHeader marks INVITEs we send; one that comes back gets 482.
const loopHeader = "X-Sigbridge-Loop"

// New builds the adapter and registers it on gw's router for sip: and tel:
// targets. log and metrics may be nil; reg may be nil (metrics unregistered).
func New(cfg Config, gw *gateway.Gateway, log *slog.Logger, metrics *gateway.Metrics, reg prometheus.Registerer) (*Adapter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	a := &Adapter{cfg: cfg, gw: gw, log: log.With("adapter", "sip"), gm: metrics, m: newMetrics(reg),
		limits:    newLimiter(cfg.MaxCallsPerUser, cfg.CallsPerSecond, cfg.CallsBurst),
		regLimits: newLimiter(math.MaxInt, registerRate, registerBurst),
		resolver:  net.DefaultResolver, dialogs: newDialogTable(),
		accepted: newAcceptedMemo(), flows: newFlowTable(), addrs: map[string]string{},
		live: map[*legCore]struct{}{}, cancelWait: lateSpan, late: newLateTable(), clientTxs: newClientTxTable(), serverTxs: newSrvTxTable(), parser: newParser()}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.serverTxs.clock.onPanic = func(r any) {
		a.gm.Panic()
		a.log.Error("sip transaction timer panicked", "panic", r)
	}
	a.reg = newRegistrar(a.m.bindings)
	if err := a.compile(); err != nil {
		return nil, err
	}
	rm := rtpengine.NewMetrics(reg)
	if len(cfg.RTPEngine.NG) > 0 {
		var err error
		if a.anchors, err = newAnchors(cfg.RTPEngine, a, rm); err != nil {
			return nil, err
		}
	}
	if err := a.newUA(); err != nil {
		if a.anchors != nil {
			a.anchors.rtp.Close()
		}
		return nil, err
	}
	a.handleRequests()
	if gw != nil {
		gw.Router().Handle(gateway.SchemeSIP, a)
		gw.Router().Handle(gateway.SchemeTel, a)
	}
	return a, nil
}

func (a *Adapter) compile() error {
	if err := validHost(a.cfg.Host); err != nil {
		return fmt.Errorf("%w: bad host %q", ErrConfig, a.cfg.Host)
	}
	if err := checkHeaderValue(a.cfg.UserAgent); err != nil {
		return fmt.Errorf("%w: user agent: %w", ErrConfig, err)
	}
	if err := a.cfg.checkUDPSocket(); err != nil {
		return err
	}
	var err error
	if a.routes, err = compileRoutes(a.cfg.Routes); err != nil {
		return err
	}
	for _, r := range a.routes {
		if r.anchored && len(a.cfg.RTPEngine.NG) == 0 {
			return fmt.Errorf("%w: route %s has media: rtpengine but no rtpengine.ng is configured", ErrConfig, r.name)
		}
	}
	if a.trusted, err = parsePrefixes(a.cfg.TrustedSources); err != nil {
		return err
	}
	if a.users, err = a.cfg.inboundUsers(); err != nil {
		return err
	}
	if a.digestAl, err = a.cfg.digestAlgorithms(); err != nil {
		return err
	}
	if a.accounts, err = compileAccounts(a.cfg.Accounts); err != nil {
		return err
	}
	a.nonceKey = randomBytes(32)
	a.loopTok = hex.EncodeToString(randomBytes(8))
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newUA creates the sipgo user agent, server and client, with sipgo's own
// logging demoted to debug.
func (a *Adapter) newUA() error {
	quiet := slog.New(demoteHandler{a.log.Handler()}).With("component", "sipgo")
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(a.cfg.UserAgent), sipgo.WithUserAgentHostname(a.cfg.Host),
		sipgo.WithUserAgentParser(a.parser),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(a.onStrayResponse)))
	if err != nil {
		return fmt.Errorf("sip: user agent: %w", err)
	}
	a.ua = ua
	if a.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(quiet)); err != nil {
		return fmt.Errorf("sip: server: %w", err)
	}
	if a.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname(a.cfg.Host), sipgo.WithClientLogger(quiet)); err != nil {
		return fmt.Errorf("sip: client: %w", err)
	}
	a.cli.TxRequester = flowRequester{a}
	return nil
}

// onStrayResponse sees responses that match no client transaction. A 2xx
// to an INVITE of one of our dialogs is a retransmission whose ACK was
// lost (our INVITE transactions end at the ACK: outLeg.dropInvite): the
// dialog ACKs it again (RFC 3261 §13.2.2.4). A 2xx to an INVITE we gave up
// (cancelled, failed, timed out) is ACKed and BYEd (late2xx.go).
func (a *Adapter) onStrayResponse(res *sip.Response) {
	if a.clientTxs.dispatch(res) {
		return // one of our UDP transactions, read by a reader without stampedConn
	}
	if cseq := res.CSeq(); res.IsSuccess() && cseq != nil && cseq.MethodName == sip.INVITE {
		if l := a.dialogs.findResponse(res); l != nil && l.push(reack{cseq: cseq.SeqNo}) == nil {
			return
		}
		if a.onLate2xx(res) {
			return
		}
	}
	a.log.Debug("response matches no transaction", "status", res.StatusCode)
}

// Start binds the listeners (UDP and TCP on Listen, TLS and WebSocket when
// configured) and starts the registrations. ctx bounds the start only; Close
// stops the adapter.
func (a *Adapter) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return fmt.Errorf("sip: already started")
	}
	if err := a.listen(ctx); err != nil {
		a.closeListeners()
		return err
	}
	a.dua = &sipgo.DialogUA{Client: a.cli, ContactHDR: a.contactLocked("UDP")}
	a.started = true
	a.startRegistrations()
	if len(a.users) > 0 {
		a.wg.Add(1)
		go a.sweepLoop()
	}
	if a.anchors != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.anchors.sweepLoop(a.ctx, a.log)
		}()
	}
	a.log.Info("sip listening", "addrs", a.addrs, "host", a.cfg.Host)
	return nil
}

func waitGroup(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// Addr returns the bound UDP/TCP address ("127.0.0.1:5060"), or "" before
// Start.
func (a *Adapter) Addr() string { return a.AddrOf("udp") }

// AddrOf returns the bound address of a transport: udp, tcp, tls or ws.
func (a *Adapter) AddrOf(transport string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addrs[transport]
}

// selfAddrs are our bound addresses and, for each, Config.Host with its
// port. Made once per set of listeners (every outbound call's egress
// check reads them); the slice is never modified once made.
func (a *Adapter) selfAddrs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.self != nil && a.selfOf == len(a.addrs) { // addrs only grow, during Start
		return a.self
	}
	out := make([]string, 0, len(a.addrs)*2)
	for _, hp := range a.addrs {
		out = append(out, hp)
		if _, p, err := net.SplitHostPort(hp); err == nil {
			out = append(out, net.JoinHostPort(a.cfg.Host, p))
		}
	}
	a.self, a.selfOf = out, len(a.addrs)
	return out
}

// dialogUA returns the dialog user agent (nil before Start).
func (a *Adapter) dialogUA() *sipgo.DialogUA {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dua
}

// contact is our Contact for a transport.
func (a *Adapter) contact(transport string) sip.ContactHeader {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.contactLocked(transport)
}

func (a *Adapter) contactLocked(transport string) sip.ContactHeader {
	tr := sip.NetworkToLower(transport)
	port := a.portOf(tr)
	u := sip.Uri{Scheme: "sip", User: "sigbridge", Host: a.cfg.Host, Port: port}
	if tr != "udp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", tr)
	}
	return sip.ContactHeader{Address: u}
}

// portOf is the bound port of a transport; a.mu is held.
func (a *Adapter) portOf(tr string) int {
	hp := a.addrs[tr]
	if hp == "" {
		hp = a.addrs["udp"]
	}
	_, p, err := net.SplitHostPort(hp)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p) // on the path of every call; Sscanf allocated
	return n
}

// demoteHandler logs sipgo's records at debug level: its errors are about
// remote input (unparsable packets, stray responses), not our health.
type demoteHandler struct{ h slog.Handler }

func (d demoteHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d demoteHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d demoteHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return demoteHandler{d.h.WithAttrs(as)}
}

func (d demoteHandler) WithGroup(n string) slog.Handler { return demoteHandler{d.h.WithGroup(n)} }
