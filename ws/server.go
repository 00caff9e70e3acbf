package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
)

// Subprotocol is the WebSocket subprotocol of the MDN sample. Clients may
// also ask for none.
const Subprotocol = "json"

var (
	errOrigin       = errors.New("origin not allowed")
	errShuttingDown = errors.New("server shutting down")
)

// Server is the browser adapter: the HTTP handler (WebSocket + demo page),
// the directory of connected users and the gateway.Dialer that reaches them.
type Server struct {
	cfg      Config
	gw       *gateway.Gateway
	log      *slog.Logger
	metrics  *gateway.Metrics
	auth     *authenticator // nil: no authentication
	turn     *turnMinter    // nil: no per-user TURN credentials
	dir      *directory
	upgrader websocket.Upgrader
	handler  http.Handler

	stopWatch func() // ends the registry watch (UseRegistry)

	mu      sync.Mutex // orders admit against Shutdown
	closing atomic.Bool
	wg      sync.WaitGroup // one per connection
	writers *writerPool    // writes broadcasts (writer.go)
}

// NewServer returns a server and registers it on gw's router as the dialer
// of browser users (gateway.SchemeUser). log and metrics may be nil.
func NewServer(cfg Config, gw *gateway.Gateway, log *slog.Logger, metrics *gateway.Metrics) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := validateDirectory(cfg.Directory); err != nil {
		log.Error("ws: invalid configuration; user list off", "err", err)
		cfg.Directory = DirectoryNone
	}
	if err := validateICEServers(cfg.ICEServers); err != nil {
		log.Error("ws: invalid configuration; TURN servers with static credentials are not sent", "err", err)
		cfg.ICEServers = withoutStaticTURN(cfg.ICEServers)
	}
	cfg = cfg.withDefaults()
	turn, err := newTURNMinter(cfg.TURN)
	if err != nil {
		log.Error("ws: invalid TURN configuration; no TURN credentials", "err", err)
	}
	s := &Server{turn: turn, cfg: cfg, gw: gw, log: log, metrics: metrics, auth: newAuthenticator(cfg, log),
		dir: newDirectory(cfg.Directory, cfg.listInterval), writers: newWriterPool()}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		// An idle connection keeps a small read buffer and no write
		// buffer: data frames are written by writer.go from pooled
		// chunks, and gorilla writes only control frames, without a buffer.
		// The read buffer (readBufferSize) is ours (ownReader): gorilla
		// reads through the one the hijack returns when ReadBufferSize is 0.
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{Subprotocol},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked before, in checkOrigin
	}
	s.handler = s.routes()
	gw.Router().Handle(gateway.SchemeUser, s)
	return s
}

// Handler serves the WebSocket endpoint on /ws and on / (where the MDN
// client connects), and the embedded demo page on GET /.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	demo := demoHandler()
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && websocket.IsWebSocketUpgrade(r) {
			s.serveWS(w, r)
			return
		}
		demo.ServeHTTP(w, r)
	})
	return mux
}

// serveWS checks origin and token before the upgrade: a refused client
// gets a plain HTTP status and never a socket.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "WebSocket upgrade required", http.StatusUpgradeRequired)
		return
	}
	if err := s.checkOrigin(r); err != nil {
		s.refuse(w, r, http.StatusForbidden, err)
		return
	}
	identity, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, r, http.StatusUnauthorized, err)
		return
	}
	s.upgrade(w, r, identity)
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, identity string) {
	if !s.admit() {
		s.refuse(w, r, http.StatusServiceUnavailable, errShuttingDown)
		return
	}
	own := &ownReader{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(own, r, nil)
	if err != nil {
		s.wg.Done()
		s.log.Info("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// serve returns once the connection's own reader runs, and so does
	// the handler: net/http's goroutine would otherwise keep the request,
	// its 4 KiB read and write buffers and a deep stack for the
	// connection's life (about 12 KiB of an idle connection's memory).
	c := newConn(s, ws, identity, r.RemoteAddr)
	c.br, c.stage = own.br, own.stage
	c.serve()
}

// admit counts a new connection unless the server is shutting down.
func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) isClosing() bool { return s.closing.Load() }

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	http.Error(w, http.StatusText(code), code)
	s.metrics.Error("ws", code)
	s.log.Info("handshake refused", "remote", r.RemoteAddr, "code", code, "err", err)
}

// checkOrigin allows requests without Origin (non-browser clients), origins
// in AllowedOrigins ("*": any) and, with no list, pages of the host the
// request was sent to, on any port (the MDN sample's page is served on
// another port than its signaling server). That is only as safe as the
// Host header: the server in front must refuse Hosts it does not serve
// (DNS rebinding), as cmd/sigbridge does.
func (s *Server) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		if u, err := url.Parse(origin); err == nil && u.Hostname() != "" && strings.EqualFold(u.Hostname(), hostname(r.Host)) {
			return nil
		}
		return errOrigin
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return nil
		}
	}
	return errOrigin
}

func (s *Server) authenticate(r *http.Request) (string, error) {
	if s.auth == nil {
		return "", nil
	}
	return s.auth.identity(r)
}

// Shutdown closes every connection (close 1001) and ends their calls, then
// waits for the connections to finish or ctx to end. New connections get 503.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.mu.Unlock()
	for _, c := range s.dir.all() {
		c.closeWith(goingAway())
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ws: shutdown: %w", ctx.Err())
	}
}

// hostname is the host part of a Host header, without port or brackets.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}
