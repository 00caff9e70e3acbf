package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/logbuf"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/ws"
	"github.com/sigbridge/sigbridge/xmpp"
)

// serveFlags are the command-line overrides of the config file.
type serveFlags struct {
	config, http, sip, logLevel string
	node, nats                  string
}

func parseServeFlags(args []string, errOut io.Writer) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&f.config, "config", "", "YAML configuration file (unknown keys are an error)")
	fs.StringVar(&f.http, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	fs.StringVar(&f.sip, "sip", "", `SIP UDP+TCP listen address (default 127.0.0.1:5060; "off" disables SIP)`)
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&f.node, "node", "", "cluster node name (cluster.node)")
	fs.StringVar(&f.nats, "nats", "", "comma-separated NATS URLs: run as a cluster node (cluster.nats)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

func runServe(ctx context.Context, args []string, out, errOut io.Writer) int {
	f, err := parseServeFlags(args, errOut)
	if err != nil {
		return 2
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		fmt.Fprintln(errOut, "sigbridge:", err)
		return 2
	}
	applyFlags(&cfg, f)
	if err := cfg.Cluster.Validate(); err != nil {
		fmt.Fprintln(errOut, "sigbridge:", err)
		return 2
	}
	// One write per 100 ms at most while busy (the one INFO record per
	// call); what is pending goes out when serve returns. A crash loses at
	// most the last 100 ms of lines (internal/logbuf).
	logOut := logbuf.New(errOut)
	defer logOut.Close()
	log := newLogger(logOut, cfg.LogLevel)
	sip.RouteLibraryLogs(log) // sipgo's package-wide logger, once per process
	applyRuntime(cfg.Runtime, log)
	startProcs(ctx, cfg.Runtime.Procs, log)
	startPprof(log)
	if err := serve(ctx, cfg, log, nil); err != nil {
		log.Error("sigbridge stopped", "err", err)
		return 1
	}
	return 0
}

func applyFlags(cfg *Config, f serveFlags) {
	if f.http != "" {
		cfg.HTTP = f.http
	}
	if f.sip != "" {
		cfg.SIP.Listen = f.sip
	}
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
	}
	if f.node != "" {
		cfg.Cluster.Node = f.node
	}
	if f.nats != "" {
		cfg.Cluster.NATS = splitURLs(f.nats)
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// server is a running gateway with its adapters.
type server struct {
	cfg  Config
	log  *slog.Logger
	gw   *gateway.Gateway
	ws   *ws.Server
	sip  *sip.Adapter  // nil when SIP is off
	xmpp *xmpp.Adapter // nil when XMPP is not configured
	node *cluster.Node // nil when not part of a cluster
	reg  *prometheus.Registry
	// registerer is reg, or with a cluster reg with the label node=NAME.
	registerer prometheus.Registerer
	ready      atomic.Bool
	httpSrv    *http.Server
	addr       string

	stopXMPP context.CancelFunc
	xmppDone sync.WaitGroup
}

// goroutinesCreated adds to the Go collector's default set, from
// runtime/metrics: go_sched_goroutines_created_goroutines_total
// (/sched/goroutines-created: goroutines started per call, the hand-offs a
// call costs), go_sched_latencies_seconds (/sched/latencies: how long
// goroutines waited runnable for a CPU) and go_sched_pauses_total_gc_seconds
// (/sched/pauses/total/gc: the collector's stop-the-world pauses), the
// figures behind the setup tail (docs/PERFORMANCE.md).
var goroutinesCreated = collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
	Matcher: regexp.MustCompile(`^/sched/(goroutines-created:goroutines|latencies:seconds|pauses/total/gc:seconds)$`)})

func newServer(cfg Config, log *slog.Logger) (*server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(goroutinesCreated), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newSchedLatency(), procsChangesMetric())
	registerer := nodeRegisterer(reg, cfg.Cluster)
	metrics := gateway.NewMetrics(registerer)
	gw := gateway.New(cfg.Gateway, gateway.NewRouter(), log, metrics)
	gw.AddCapacity(moreProcs) // runtime.procs: elastic takes more Ps before calls are shed
	s := &server{cfg: cfg, log: log, gw: gw, reg: reg, registerer: registerer, stopXMPP: func() {}}
	s.ws = ws.NewServer(cfg.WS, gw, log.With("adapter", "ws"), metrics)
	if err := s.joinCluster(); err != nil {
		return nil, err
	}
	if err := s.newAdapters(metrics); err != nil {
		_ = s.leaveCluster()
		return nil, err
	}
	s.clusterEdge()
	s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: cfg.WS.HandshakeTimeout}
	return s, nil
}

func (s *server) newAdapters(metrics *gateway.Metrics) error {
	var err error
	if s.cfg.sipEnabled() {
		sipCfg := s.cfg.SIP
		sipCfg.RTPEngine = s.cfg.RTPEngine
		if s.sip, err = sip.New(sipCfg, s.gw, s.log, metrics, s.registerer); err != nil {
			return fmt.Errorf("sip: %w", err)
		}
	}
	if s.cfg.XMPP.Enabled() {
		if s.xmpp, err = xmpp.New(s.cfg.XMPP, s.gw, s.log.With("adapter", "xmpp"), metrics); err != nil {
			return fmt.Errorf("xmpp: %w", err)
		}
	}
	return nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/", s.ws.Handler())
	return mux
}

func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() || s.gw.Draining() || !s.clusterReady() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// serve runs until ctx ends, then drains. If started is not nil, it receives
// the server once every listener is up (s.addr holds the HTTP address).
func serve(ctx context.Context, cfg Config, log *slog.Logger, started chan<- *server) error {
	s, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	errc, err := s.start(ctx)
	if err != nil {
		return err
	}
	if started != nil {
		started <- s
	}
	select {
	case err := <-errc:
		_ = s.shutdown()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	return s.shutdown()
}

// start opens the HTTP and SIP listeners and starts the XMPP session.
func (s *server) start(ctx context.Context) (<-chan error, error) {
	ln, err := s.listenHTTP()
	if err != nil {
		return nil, err
	}
	if s.sip != nil {
		if err := s.sip.Start(ctx); err != nil {
			ln.Close()
			return nil, fmt.Errorf("sip: %w", err)
		}
	}
	s.startXMPP()
	errc := make(chan error, 1)
	go func() { errc <- s.httpSrv.Serve(ln) }()
	s.addr = ln.Addr().String()
	s.ready.Store(true)
	s.log.Info("sigbridge serving", "http", s.addr, "sip", s.sipAddr(), "xmpp", s.cfg.XMPP.Enabled(), "version", version)
	return errc, nil
}

// listenHTTP opens the HTTP listener and puts the Host allowlist in front
// of every route. Without authentication it refuses to listen beyond
// loopback unless allow_anonymous says so.
func (s *server) listenHTTP() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if err := checkAnonymous(addr, s.cfg); err != nil {
		ln.Close()
		s.log.Error("not starting: no authentication on a public address", "http", addr.String(), "err", err)
		return nil, err
	}
	if !addr.IP.IsLoopback() && s.cfg.WS.TokenSecret == "" {
		s.log.Warn("anonymous users beyond loopback (allow_anonymous: true): anyone who reaches the port may call through every route",
			"http", addr.String())
	}
	hosts, err := newHostPolicy(addr, s.cfg.AllowedHosts, interfaceIPs)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("http: %w", err)
	}
	s.httpSrv.Handler = hosts.wrap(s.httpSrv.Handler, s.log)
	return ln, nil
}

func (s *server) sipAddr() string {
	if s.sip == nil {
		return sipOff
	}
	return s.sip.Addr()
}

func (s *server) startXMPP() {
	if s.xmpp == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopXMPP = cancel
	s.xmppDone.Add(1)
	go func() {
		defer s.xmppDone.Done()
		if err := s.runXMPP(ctx); err != nil {
			s.log.Error("xmpp adapter stopped", "err", err)
		}
	}()
}

// shutdown drains: calls may end on their own until shortly before the
// drain deadline (hangupReserve); then the rest are hung up on every leg,
// and the SIP adapter waits, until the deadline, for each dialog's BYE,
// CANCEL or final answer to complete before the transports close.
func (s *server) shutdown() error {
	s.log.Info("draining", "calls", s.gw.ActiveCalls(), "timeout", s.cfg.DrainTimeout)
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-hangupReserve(s.cfg.DrainTimeout)))
	s.gw.Drain(ctx)
	cancel()
	var errs []error
	if s.sip != nil {
		hangups, cancelHangups := context.WithDeadline(context.Background(), deadline)
		if err := s.sip.Shutdown(hangups); errors.Is(err, context.DeadlineExceeded) {
			s.log.Warn("drain deadline passed before every SIP hang-up completed", "err", err)
		} else if err != nil {
			errs = append(errs, err)
		}
		cancelHangups()
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	errs = append(errs, s.ws.Shutdown(closeCtx))
	s.stopXMPP() // before leaving: the XMPP lease is released and the next holder is not refused
	s.xmppDone.Wait()
	errs = append(errs, s.leaveCluster())
	errs = append(errs, s.httpSrv.Shutdown(closeCtx))
	s.log.Info("stopped")
	return errors.Join(errs...)
}

// hangupReserve is the part of the drain timeout kept for the hang-ups'
// own transactions (SIP BYE and CANCEL answers): a third of it, at most 5 s.
func hangupReserve(drain time.Duration) time.Duration {
	return min(drain/3, 5*time.Second)
}
