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
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws"
)

// serveFlags are the command-line overrides of the config file.
type serveFlags struct {
	config, http, logLevel string
}

func parseServeFlags(args []string, errOut io.Writer) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&f.config, "config", "", "YAML configuration file (unknown keys are an error)")
	fs.StringVar(&f.http, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
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
	log := newLogger(errOut, cfg.LogLevel)
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
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
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
	cfg     Config
	log     *slog.Logger
	gw      *gateway.Gateway
	ws      *ws.Server
	reg     *prometheus.Registry
	ready   atomic.Bool
	httpSrv *http.Server
	addr    string
}

func newServer(cfg Config, log *slog.Logger) *server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := gateway.NewMetrics(reg)
	gw := gateway.New(cfg.Gateway, gateway.NewRouter(), log, metrics)
	s := &server{cfg: cfg, log: log, gw: gw, reg: reg}
	s.ws = ws.NewServer(cfg.WS, gw, log.With("adapter", "ws"), metrics)
	s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: cfg.WS.HandshakeTimeout}
	return s
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
	if !s.ready.Load() || s.gw.Draining() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// serve runs until ctx ends, then drains. If started is not nil, it receives
// the server once the HTTP listener is up (s.addr holds the bound address).
func serve(ctx context.Context, cfg Config, log *slog.Logger, started chan<- *server) error {
	s := newServer(cfg, log)
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.httpSrv.Serve(ln) }()
	s.ready.Store(true)
	s.addr = ln.Addr().String()
	log.Info("sigbridge serving", "http", s.addr, "version", version)
	if started != nil {
		started <- s
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	return s.shutdown()
}

// shutdown drains calls until the drain timeout, then closes the adapters
// and the HTTP server.
func (s *server) shutdown() error {
	s.log.Info("draining", "calls", s.gw.ActiveCalls(), "timeout", s.cfg.DrainTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	s.gw.Drain(ctx)
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	err := errors.Join(s.ws.Shutdown(closeCtx), s.httpSrv.Shutdown(closeCtx))
	s.log.Info("stopped")
	return err
}
