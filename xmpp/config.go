package xmpp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"mellium.im/xmpp/jid"
)

// Config configures the adapter. The zero value of every field takes its
// default. The adapter is disabled when both Component.Domain and Client.JID
// are empty (see Enabled).
type Config struct {
	// Component is the XEP-0114 mode (the default): the gateway owns a
	// domain such as gw.example.org and every local part is a target.
	Component ComponentConfig `yaml:"component"`
	// Client is the client mode: the gateway logs in to an account on a
	// server that does not allow components.
	Client ClientConfig `yaml:"client"`
	// ProposeTimeout bounds a JMI proposal: no device taking the call
	// (outgoing: no proceed, no session-accept on a direct branch) or no
	// session-initiate after our proceed (incoming) by then ends it.
	ProposeTimeout time.Duration `yaml:"propose_timeout"`
	// IQTimeout bounds the wait for the answer to one of our IQs.
	IQTimeout time.Duration `yaml:"iq_timeout"`
	// SessionPingInterval is the pause between two session pings (an
	// empty session-info, XEP-0166) to the peer of a pending or active
	// session; a peer that is gone ends the call (see ping.go). Default
	// 15s; a negative value disables the pings.
	SessionPingInterval time.Duration `yaml:"session_ping_interval"`
	// SessionPingTimeout bounds the wait for the answer to one session
	// ping (default 5s). No answer by then ends the call.
	SessionPingTimeout time.Duration `yaml:"session_ping_timeout"`
	// MaxStanzaBytes caps one incoming stanza (256 KiB).
	MaxStanzaBytes int `yaml:"max_stanza_bytes"`
}

// ComponentConfig is the XEP-0114 component connection.
type ComponentConfig struct {
	// Addr is the server's component port, default 127.0.0.1:5347.
	Addr string `yaml:"addr"`
	// Domain is the component's domain (gw.example.org).
	Domain string `yaml:"domain"`
	// Secret is the shared secret; SecretEnv names an environment
	// variable holding it instead (the variable wins when both are set).
	Secret    string `yaml:"secret"`
	SecretEnv string `yaml:"secret_env"`
	// AllowPublic permits Addr to resolve to a public address. XEP-0114
	// has no TLS and a SHA-1 handshake, so by default only loopback and
	// private addresses are dialed.
	AllowPublic bool `yaml:"allow_public"`
}

// ClientConfig is the client-mode account.
type ClientConfig struct {
	// JID is the account (a resource is optional; default "sigbridge").
	JID string `yaml:"jid"`
	// Password, or PasswordEnv naming an environment variable with it.
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	// Server is host:port to dial, default the JID's domain on port 5222.
	// STARTTLS is required unless the server resolves to loopback.
	Server string `yaml:"server"`
	// DefaultTarget is called when an incoming call does not name a
	// target (see the README: client mode).
	DefaultTarget string `yaml:"default_target"`
}

// Config errors.
var (
	ErrDisabled   = errors.New("xmpp: adapter disabled (no component domain and no client JID)")
	ErrConfig     = errors.New("xmpp: bad configuration")
	ErrPublicBind = errors.New("xmpp: component address is public (set allow_public to permit it)")
)

// Enabled reports whether the configuration asks for the adapter.
func (c Config) Enabled() bool { return c.Component.Domain != "" || c.Client.JID != "" }

// ComponentMode reports whether the adapter runs as a component.
func (c Config) ComponentMode() bool { return c.Component.Domain != "" }

func (c Config) withDefaults() Config {
	if c.Component.Addr == "" {
		c.Component.Addr = "127.0.0.1:5347"
	}
	if c.ProposeTimeout <= 0 {
		c.ProposeTimeout = DefaultProposeTimeout
	}
	if c.IQTimeout <= 0 {
		c.IQTimeout = DefaultIQTimeout
	}
	if c.SessionPingInterval == 0 {
		c.SessionPingInterval = DefaultSessionPingInterval
	}
	if c.SessionPingTimeout <= 0 {
		c.SessionPingTimeout = DefaultSessionPingTimeout
	}
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	return c
}

// validate checks the configuration and resolves secrets from the
// environment. It returns the secret (component) or password (client).
func (c Config) validate() (string, error) {
	switch {
	case !c.Enabled():
		return "", ErrDisabled
	case c.Component.Domain != "" && c.Client.JID != "":
		return "", fmt.Errorf("%w: set either component.domain or client.jid, not both", ErrConfig)
	case c.ComponentMode():
		return c.validateComponent()
	}
	return c.validateClient()
}

func (c Config) validateComponent() (string, error) {
	if _, err := jid.Parse(c.Component.Domain); err != nil || containsAny(c.Component.Domain, "@/") {
		return "", fmt.Errorf("%w: component.domain %q", ErrConfig, c.Component.Domain)
	}
	if _, _, err := net.SplitHostPort(c.Component.Addr); err != nil {
		return "", fmt.Errorf("%w: component.addr: %w", ErrConfig, err)
	}
	if err := checkLiteralAddr(c.Component.Addr, c.Component.AllowPublic); err != nil {
		return "", err
	}
	return secret("component.secret", c.Component.Secret, c.Component.SecretEnv)
}

func (c Config) validateClient() (string, error) {
	if _, err := jid.Parse(c.Client.JID); err != nil || !containsAny(c.Client.JID, "@") {
		return "", fmt.Errorf("%w: client.jid %q", ErrConfig, c.Client.JID)
	}
	if c.Client.Server != "" {
		if _, _, err := net.SplitHostPort(c.Client.Server); err != nil {
			return "", fmt.Errorf("%w: client.server: %w", ErrConfig, err)
		}
	}
	return secret("client.password", c.Client.Password, c.Client.PasswordEnv)
}

func secret(what, value, env string) (string, error) {
	if env != "" {
		if v := os.Getenv(env); v != "" {
			return v, nil
		}
	}
	if value == "" {
		return "", fmt.Errorf("%w: %s is empty (and no %s in the environment)", ErrConfig, what, orDash(env))
	}
	return value, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func containsAny(s, chars string) bool {
	for i := range len(s) {
		for j := range len(chars) {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

// checkLiteralAddr refuses a literal public IP early; host names are checked
// after resolution, at every dial.
func checkLiteralAddr(addr string, allowPublic bool) error {
	host, _, _ := net.SplitHostPort(addr)
	ip, err := netip.ParseAddr(host)
	if err != nil || allowPublic || isPrivate(ip) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrPublicBind, addr)
}

// isPrivate reports loopback, RFC 1918 / RFC 4193 and link-local addresses.
func isPrivate(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}
