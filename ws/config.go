package ws

import (
	"fmt"
	"time"
)

// ICEServer is one RTCIceServer handed to browsers in the id greeting
// (iceServers), with the field names of the WebRTC API.
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username" json:"username,omitempty"`
	Credential string   `yaml:"credential" json:"credential,omitempty"`
}

// Config configures the browser adapter. Zero values take the defaults of
// DefaultConfig.
type Config struct {
	// MaxMessageBytes caps one WebSocket message; a larger one closes the
	// connection with 1009.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// RatePerSecond and RateBurst shape the token bucket that limits the
	// messages one connection may send; a flood gets error 429 and a close.
	RatePerSecond float64 `yaml:"rate_per_second"`
	RateBurst     int     `yaml:"rate_burst"`
	// PingInterval is how often the server pings; a connection that sends
	// nothing (not even a pong) for PingInterval+PongTimeout is closed.
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	// HandshakeTimeout bounds the WebSocket upgrade response. The HTTP
	// server's ReadHeaderTimeout should be set to the same value.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// AllowedOrigins lists the origins ("https://app.example.org") whose
	// pages may connect; "*" allows any. Empty: only pages of the host the
	// request was sent to (any port), plus clients that send no Origin
	// header (non-browsers). The Host must be checked in front (DNS
	// rebinding), as cmd/sigbridge does.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TokenSecret is the HMAC secret of the JWTs that authenticate users.
	// Empty: no authentication, users pick their names with `username`.
	TokenSecret string `yaml:"token_secret"`
	// TokenAlgorithms is the allowlist of JWT algorithms (HS256, HS384,
	// HS512). Default HS256 only.
	TokenAlgorithms []string `yaml:"token_algorithms"`
	// TokenAudience and TokenIssuer, when set, must match the aud and iss
	// claims.
	TokenAudience string `yaml:"token_audience"`
	TokenIssuer   string `yaml:"token_issuer"`
	// ICEServers are sent to browsers as iceServers (STUN/TURN).
	ICEServers []ICEServer `yaml:"ice_servers"`
	// TURN mints per-user TURN credentials (turn.go). No URLs: off.
	TURN TURNConfig `yaml:"turn"`
	// SendQueue is the per-connection queue of outgoing messages; a client
	// that lets it overflow is dropped and its calls end.
	SendQueue int `yaml:"send_queue"`
	// Directory says who learns who is online: DirectoryAll (the MDN
	// userlist, or user-joined/user-left for clients with the "user-events"
	// feature; at most one per second and connection) or DirectoryNone
	// (nobody; calls still work by name). Empty: all.
	Directory string `yaml:"directory"`

	listInterval time.Duration // least time between two lists to a connection (tests shorten it)
	onHandOn     func(int)     // tests: a reader hands reading on after handling this many messages
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if err := validateDirectory(c.Directory); err != nil {
		return err
	}
	if err := validateICEServers(c.ICEServers); err != nil {
		return err
	}
	return c.TURN.validate()
}

// DefaultConfig returns the defaults of protocols.md §6.1: 64 KiB messages,
// 20 messages/s with a burst of 40, ping 30 s, pong timeout 10 s, handshake
// 5 s, HS256 tokens, a send queue of 256; TURN off (credentials valid 1 h
// when turned on).
func DefaultConfig() Config {
	return Config{MaxMessageBytes: 64 << 10, RatePerSecond: 20, RateBurst: 40,
		PingInterval: 30 * time.Second, PongTimeout: 10 * time.Second, HandshakeTimeout: 5 * time.Second,
		TokenAlgorithms: []string{"HS256"}, SendQueue: 256, Directory: DirectoryAll, listInterval: defaultListInterval,
		TURN: TURNConfig{TTL: DefaultTURNTTL}}
}

func validateDirectory(d string) error {
	switch d {
	case "", DirectoryAll, DirectoryNone:
		return nil
	}
	return fmt.Errorf("ws: directory %q: want %q or %q", d, DirectoryAll, DirectoryNone)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = d.RatePerSecond
	}
	if c.RateBurst <= 0 {
		c.RateBurst = d.RateBurst
	}
	c.PingInterval = orDuration(c.PingInterval, d.PingInterval)
	c.PongTimeout = orDuration(c.PongTimeout, d.PongTimeout)
	c.HandshakeTimeout = orDuration(c.HandshakeTimeout, d.HandshakeTimeout)
	if len(c.TokenAlgorithms) == 0 {
		c.TokenAlgorithms = d.TokenAlgorithms
	}
	if c.SendQueue <= 0 {
		c.SendQueue = d.SendQueue
	}
	if c.Directory == "" {
		c.Directory = d.Directory
	}
	c.listInterval = orDuration(c.listInterval, d.listInterval)
	return c
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
