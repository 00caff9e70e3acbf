package ws

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TURNConfig configures per-user TURN credentials in the coturn REST
// convention ("TURN REST API", coturn's use-auth-secret): the username is
// "<expiry unix time>:<user>", the password base64(HMAC-SHA1(secret,
// username)). No URLs: off.
type TURNConfig struct {
	// URLs are the TURN server URLs the credentials are for ("turn:" or
	// "turns:").
	URLs []string `yaml:"urls"`
	// SecretEnv names the environment variable that holds the shared
	// secret (coturn's static-auth-secret). The secret itself is never in
	// the configuration file.
	SecretEnv string `yaml:"secret_env"`
	// TTL is how long a credential is valid; opted-in clients get a fresh
	// one at 80% of it. Whole seconds, at least 1 s.
	TTL time.Duration `yaml:"ttl"`
}

// DefaultTURNTTL is the lifetime of a minted TURN credential.
const DefaultTURNTTL = time.Hour

// turnRefreshShare is the share of the TTL after which a fresh credential
// is sent.
const turnRefreshShare = 0.8

func (t TURNConfig) enabled() bool { return len(t.URLs) > 0 }

// validate checks the TURN block and that the secret's environment
// variable is set (a missing one is a configuration error at start).
func (t TURNConfig) validate() error {
	if !t.enabled() {
		if t.SecretEnv != "" {
			return errors.New("ws: turn.secret_env is set but turn.urls is empty")
		}
		return nil
	}
	for _, u := range t.URLs {
		if !isTURNURL(u) {
			return fmt.Errorf("ws: turn.urls: %q is not a turn: or turns: URL (STUN servers go in ice_servers)", u)
		}
	}
	if t.TTL != 0 && (t.TTL < time.Second || t.TTL%time.Second != 0) {
		return fmt.Errorf("ws: turn.ttl %v: want whole seconds, at least 1s", t.TTL)
	}
	if _, err := t.secret(); err != nil {
		return err
	}
	return nil
}

// secret reads the shared secret from the environment variable SecretEnv.
func (t TURNConfig) secret() ([]byte, error) {
	if t.SecretEnv == "" {
		return nil, errors.New("ws: turn.secret_env is empty: name the environment variable that holds the TURN shared secret")
	}
	v, ok := os.LookupEnv(t.SecretEnv)
	if !ok || v == "" {
		return nil, fmt.Errorf("ws: turn.secret_env: environment variable %s is not set or empty", t.SecretEnv)
	}
	return []byte(v), nil
}

func isTURNURL(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "turn:") || strings.HasPrefix(l, "turns:")
}

// validateICEServers refuses static TURN credentials: a password in
// ice_servers would be handed to every page. Per-user credentials come from
// turn (TURNConfig).
func validateICEServers(servers []ICEServer) error {
	for _, s := range servers {
		if s.Username == "" && s.Credential == "" {
			continue
		}
		for _, u := range s.URLs {
			if isTURNURL(u) {
				return fmt.Errorf("ws: ice_servers: %q has a static username/credential, which every page would see; use ws.turn for per-user credentials", u)
			}
		}
	}
	return nil
}

// withoutStaticTURN drops the entries validateICEServers refuses.
func withoutStaticTURN(servers []ICEServer) []ICEServer {
	var out []ICEServer
	for _, s := range servers {
		if validateICEServers([]ICEServer{s}) == nil {
			out = append(out, s)
		}
	}
	return out
}

// turnMinter mints per-user credentials. A nil minter mints nothing.
type turnMinter struct {
	urls   []string
	secret []byte
	ttl    time.Duration
}

// newTURNMinter returns nil when TURN is off.
func newTURNMinter(t TURNConfig) (*turnMinter, error) {
	if !t.enabled() {
		return nil, nil
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	secret, err := t.secret()
	if err != nil {
		return nil, err
	}
	ttl := t.TTL
	if ttl == 0 {
		ttl = DefaultTURNTTL
	}
	return &turnMinter{urls: t.URLs, secret: secret, ttl: ttl}, nil
}

// turnCredential returns the coturn REST username and password for user,
// valid until expiry.
func turnCredential(secret []byte, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// server mints the ICE server entry for user at now, valid for at least
// the TTL (the expiry is rounded up to the next second).
func (m *turnMinter) server(user string, now time.Time) ICEServer {
	exp := now.Add(m.ttl)
	if exp.Nanosecond() != 0 {
		exp = time.Unix(exp.Unix()+1, 0)
	}
	name, pass := turnCredential(m.secret, user, exp)
	return ICEServer{URLs: m.urls, Username: name, Credential: pass}
}

// iceServersFor returns the configured servers plus, when TURN is on and
// user is known, a credential minted for user.
func (s *Server) iceServersFor(user string) []ICEServer {
	if s.turn == nil || user == "" {
		return s.cfg.ICEServers
	}
	out := make([]ICEServer, 0, len(s.cfg.ICEServers)+1)
	out = append(out, s.cfg.ICEServers...)
	return append(out, s.turn.server(user, time.Now()))
}

// iceTTL is the ttl field of ice-servers: the credential lifetime in
// seconds, 0 for static servers.
func (s *Server) iceTTL(user string) int {
	if s.turn == nil || user == "" {
		return 0
	}
	return int(s.turn.ttl / time.Second)
}

// turnRefresh is a connection's refresh timer: at 80% of the TTL an
// opted-in, logged-in client gets a fresh ice-servers. It is armed at
// login (again at each rename) and stopped when the connection ends.
type turnRefresh struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// armTURNRefresh (re)starts the refresh timer of c.
func (c *conn) armTURNRefresh() {
	if c.s.turn == nil {
		return
	}
	r := &c.turnRefresh
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = time.AfterFunc(time.Duration(float64(c.s.turn.ttl)*turnRefreshShare), c.refreshTURN)
}

// refreshTURN sends fresh credentials to an opted-in client and rearms.
// Plain MDN clients have no message type that could carry them.
func (c *conn) refreshTURN() {
	if c.closing() {
		return
	}
	if c.ext.Load() {
		c.sendICEServers()
	}
	c.armTURNRefresh()
}

// stopTURNRefresh stops the timer for good (the connection ends).
func (c *conn) stopTURNRefresh() {
	r := &c.turnRefresh
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
}
