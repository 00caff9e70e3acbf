package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config configures the SIP adapter. The zero value listens on
// 127.0.0.1:5060 (UDP and TCP), routes nothing out and trusts nobody in.
type Config struct {
	// Listen is the UDP and TCP address (default 127.0.0.1:5060; port 0
	// picks a free port, the same for both).
	Listen string `yaml:"listen"`
	// TLSListen, TLSCert and TLSKey enable SIP over TLS.
	TLSListen string `yaml:"tls_listen"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	// WSListen enables SIP over WebSocket (RFC 7118) on WSPath (default /sip).
	WSListen string `yaml:"ws_listen"`
	WSPath   string `yaml:"ws_path"`
	// Host is our host in Contact, Via and From (default: the Listen host,
	// or the first non-loopback address when Listen is a wildcard).
	Host string `yaml:"host"`
	// Realm is the digest realm of inbound challenges (default Host).
	Realm string `yaml:"realm"`
	// UserAgent is sent in User-Agent and Server headers.
	UserAgent string `yaml:"user_agent"`
	// DigestAlgorithms are the digest algorithms our challenges offer, most
	// preferred first, one WWW-Authenticate each (RFC 8760 §2.4): MD5,
	// SHA-256 or SHA-512-256 (default SHA-256, MD5). Responses are accepted
	// for these algorithms only. [MD5] serves UAs that read only one
	// challenge or know only MD5 (JsSIP, SIP.js, baresip).
	DigestAlgorithms []string `yaml:"digest_algorithms"`

	// Routes allow egress: a target that matches no route is refused.
	Routes []Route `yaml:"routes"`
	// TrustedSources lists the CIDR prefixes (or single addresses) that may
	// send INVITEs without a digest challenge: trunks and proxies.
	TrustedSources []string `yaml:"trusted_sources"`
	// InboundUsers may call in from anywhere after a digest challenge.
	InboundUsers []InboundUser `yaml:"inbound_users"`
	// Accounts register this gateway at SIP registrars; calls to the
	// account's AOR reach its LocalUser.
	Accounts []Account `yaml:"accounts"`

	// MaxCallsPerUser caps concurrent SIP calls per caller (default 4).
	MaxCallsPerUser int `yaml:"max_calls_per_user"`
	// CallsPerSecond and CallsBurst rate-limit new calls per caller
	// (default 2/s, burst 10).
	CallsPerSecond float64 `yaml:"calls_per_second"`
	CallsBurst     int     `yaml:"calls_burst"`
	// RetryAfter is the Retry-After of 503 answers (default 30 s).
	RetryAfter time.Duration `yaml:"retry_after"`
	// MaxInviteAge drops, unread, INVITE datagrams that waited longer in
	// the UDP socket's receive queue (default 2 s; negative: off; Linux).
	MaxInviteAge time.Duration `yaml:"max_invite_age"`
	// UDPReadBuffer and UDPWriteBuffer size the UDP listener's kernel
	// buffers in bytes (default 4 MiB and 1 MiB; negative: the kernel's
	// default). Above net.core.rmem_max / wmem_max they are forced when the
	// process has CAP_NET_ADMIN (Linux), else the kernel's cap applies and
	// the granted size is logged (udpsock.go).
	UDPReadBuffer  int `yaml:"udp_read_buffer"`
	UDPWriteBuffer int `yaml:"udp_write_buffer"`
	// UDPReaders is the number of goroutines reading the UDP listener
	// (default 1, at most 16).
	UDPReaders int `yaml:"udp_readers"`

	// DialogProbeInterval is how often an answered call's SIP peer is
	// probed with an in-dialog OPTIONS (default 15 s; negative: never).
	// A peer that answers 408 or 481, or nothing within
	// DialogProbeTimeout (default 5 s), is gone and the call ends.
	DialogProbeInterval time.Duration `yaml:"dialog_probe_interval"`
	DialogProbeTimeout  time.Duration `yaml:"dialog_probe_timeout"`

	// The registrar (registrar.go) accepts REGISTER from InboundUsers. A
	// binding lives RegistrarDefaultExpires when the UA asks for no
	// lifetime (default 600 s); shorter requests than RegistrarMinExpires
	// get 423 (default 60 s); longer ones are cut to RegistrarMaxExpires
	// (default 3600 s).
	RegistrarMinExpires     time.Duration `yaml:"registrar_min_expires"`
	RegistrarMaxExpires     time.Duration `yaml:"registrar_max_expires"`
	RegistrarDefaultExpires time.Duration `yaml:"registrar_default_expires"`

	// RTPEngine anchors media in rtpengine (anchor.go). It is the
	// configuration file's top-level rtpengine block, copied here by the
	// caller; no NG address means off.
	RTPEngine RTPEngineConfig `yaml:"-"`
}

// RTPEngineConfig is the top-level rtpengine block: the ng control
// addresses of one or more rtpengine instances (first healthy one takes a
// new call; empty: no anchoring) and the ng request timeout.
type RTPEngineConfig struct {
	NG []string `yaml:"ng"`
	// Timeout bounds one ng request, retransmissions included (default 1 s).
	Timeout time.Duration `yaml:"timeout"`
	// PingInterval is how often every instance is pinged (default 5 s).
	PingInterval time.Duration `yaml:"ping_interval"`
	// SweepInterval is how often the sessions rtpengine holds are listed
	// and those no live call owns are deleted (default 60 s).
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// InjectDTMF plays a browser's dtmf messages on anchored calls in-band
	// through rtpengine ("play DTMF") instead of sending SIP INFO. It makes
	// rtpengine decode and re-encode all audio of anchored calls (its
	// inject-DTMF flag), at a CPU cost and with new SSRCs (default false).
	InjectDTMF bool `yaml:"inject_dtmf"`
}

// RTPEngine defaults.
const (
	DefaultRTPEngineTimeout       = time.Second
	DefaultRTPEnginePingInterval  = 5 * time.Second
	DefaultRTPEngineSweepInterval = 60 * time.Second
)

// DefaultRTPEngineConfig is the rtpengine block's default: off.
func DefaultRTPEngineConfig() RTPEngineConfig { return RTPEngineConfig{}.withDefaults() }

func (c RTPEngineConfig) withDefaults() RTPEngineConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultRTPEngineTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultRTPEnginePingInterval
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultRTPEngineSweepInterval
	}
	return c
}

// Route allows calls to the targets it matches and says how to reach them.
type Route struct {
	Name string `yaml:"name"`
	// Match is a regular expression matched against the canonical target
	// ("sip:bob@pbx.example.org", "tel:+15551234"); Prefix is a plain
	// prefix of it. A route needs one of them; both must match if set.
	Match  string `yaml:"match"`
	Prefix string `yaml:"prefix"`
	// Proxy is the outbound proxy or trunk URI ("sip:trunk.example.net:5060");
	// empty sends to the target's host.
	Proxy string `yaml:"proxy"`
	// Domain is the Request-URI host for tel targets (default: Proxy host).
	Domain string `yaml:"domain"`
	// Transport is udp (default), tcp, tls or ws.
	Transport string `yaml:"transport"`
	// Username and Password (or PasswordEnv, an environment variable name)
	// answer digest challenges of the trunk.
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	// Numbers is the pattern telephone numbers must match (default E.164:
	// ^\+[1-9][0-9]{6,14}$).
	Numbers string `yaml:"numbers"`
	// AllowPrivate lets this route reach loopback, private and link-local
	// hosts (lab and test setups only).
	AllowPrivate bool `yaml:"allow_private"`
	// Media is direct (default: the SIP peer speaks ICE and DTLS-SRTP
	// itself) or rtpengine (anchored: the peer gets plain RTP/AVP through
	// rtpengine, which needs the top-level rtpengine block).
	Media string `yaml:"media"`
}

// Route media modes.
const (
	MediaDirect    = "direct"
	MediaRTPEngine = "rtpengine"
)

// InboundUser is a digest identity that may call in from anywhere.
type InboundUser struct {
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
}

// Account is a registration at a SIP registrar.
type Account struct {
	Name string `yaml:"name"`
	// Registrar is the registrar URI ("sip:registrar.example.org;transport=tcp").
	Registrar string `yaml:"registrar"`
	// Domain is the AOR host (default: the Registrar host).
	Domain string `yaml:"domain"`
	// Username is the AOR user and, unless AuthUsername is set, the digest user.
	Username     string `yaml:"username"`
	AuthUsername string `yaml:"auth_username"`
	Password     string `yaml:"password"`
	PasswordEnv  string `yaml:"password_env"`
	// Expires is the requested registration lifetime (default 300 s).
	Expires time.Duration `yaml:"expires"`
	// LocalUser is the browser user (or any router target) that calls to
	// this AOR reach.
	LocalUser string `yaml:"local_user"`
}

// Defaults.
const (
	DefaultListen     = "127.0.0.1:5060"
	DefaultWSPath     = "/sip"
	DefaultUserAgent  = "sigbridge"
	defaultExpires    = 300 * time.Second
	defaultRetryAfter = 30 * time.Second
	// DefaultMaxInviteAge: an INVITE that waited this long in the socket
	// queue was retransmitted twice already (0.5 s, 1.5 s).
	DefaultMaxInviteAge = 2 * time.Second
	// DefaultUDPReadBuffer holds about 4,000 INVITEs of 1 KiB: two seconds
	// of a burst at 2,000 calls/s (the kernel's own default, 208 KiB,
	// overflows at a few hundred calls/s).
	DefaultUDPReadBuffer = 4 << 20
	// DefaultUDPWriteBuffer: answers and requests leave at once; 1 MiB
	// absorbs the bursts of retransmission timers firing together.
	DefaultUDPWriteBuffer = 1 << 20
	// DefaultUDPReaders is one reader goroutine (see sip/README.md).
	DefaultUDPReaders = 1
	// DefaultDialogProbeInterval and DefaultDialogProbeTimeout bound how
	// long a vanished SIP peer goes unnoticed (at most their sum).
	DefaultDialogProbeInterval = 15 * time.Second
	DefaultDialogProbeTimeout  = 5 * time.Second
	// Registrar bounds of a binding's lifetime.
	DefaultRegistrarMinExpires     = 60 * time.Second
	DefaultRegistrarMaxExpires     = 3600 * time.Second
	DefaultRegistrarDefaultExpires = 600 * time.Second
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ErrConfig reports an invalid configuration.
var ErrConfig = errors.New("sip: invalid configuration")

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.WSPath == "" {
		c.WSPath = DefaultWSPath
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxCallsPerUser <= 0 {
		c.MaxCallsPerUser = 4
	}
	if c.CallsPerSecond <= 0 {
		c.CallsPerSecond = 2
	}
	if c.CallsBurst <= 0 {
		c.CallsBurst = 10
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = defaultRetryAfter
	}
	if c.MaxInviteAge == 0 {
		c.MaxInviteAge = DefaultMaxInviteAge
	}
	if c.UDPReadBuffer == 0 {
		c.UDPReadBuffer = DefaultUDPReadBuffer
	}
	if c.UDPWriteBuffer == 0 {
		c.UDPWriteBuffer = DefaultUDPWriteBuffer
	}
	if c.UDPReaders == 0 {
		c.UDPReaders = DefaultUDPReaders
	}
	if c.DialogProbeInterval == 0 {
		c.DialogProbeInterval = DefaultDialogProbeInterval
	}
	if c.DialogProbeTimeout <= 0 {
		c.DialogProbeTimeout = DefaultDialogProbeTimeout
	}
	c = c.registrarDefaults()
	c.RTPEngine = c.RTPEngine.withDefaults()
	if c.Host == "" {
		c.Host = defaultHost(c.Listen)
	}
	if c.Realm == "" {
		c.Realm = c.Host
	}
	if len(c.DigestAlgorithms) == 0 {
		c.DigestAlgorithms = DefaultDigestAlgorithms()
	}
	return c
}

// DefaultDigestAlgorithms is the default of Config.DigestAlgorithms.
func DefaultDigestAlgorithms() []string { return []string{"SHA-256", "MD5"} }

// knownDigestAlgorithms are the algorithms a challenge may offer.
var knownDigestAlgorithms = map[string]bool{"MD5": true, "SHA-256": true, "SHA-512-256": true}

// digestAlgorithms checks and canonicalises (upper case) DigestAlgorithms.
func (c Config) digestAlgorithms() ([]string, error) {
	out := make([]string, 0, len(c.DigestAlgorithms))
	seen := map[string]bool{}
	for _, alg := range c.DigestAlgorithms {
		alg = strings.ToUpper(strings.TrimSpace(alg))
		if !knownDigestAlgorithms[alg] {
			return nil, fmt.Errorf("%w: digest algorithm %q (want MD5, SHA-256 or SHA-512-256)", ErrConfig, alg)
		}
		if seen[alg] {
			return nil, fmt.Errorf("%w: digest algorithm %s listed twice", ErrConfig, alg)
		}
		seen[alg] = true
		out = append(out, alg)
	}
	return out, nil
}

func (c Config) registrarDefaults() Config {
	if c.RegistrarMinExpires <= 0 {
		c.RegistrarMinExpires = DefaultRegistrarMinExpires
	}
	if c.RegistrarMaxExpires <= 0 {
		c.RegistrarMaxExpires = DefaultRegistrarMaxExpires
	}
	if c.RegistrarMaxExpires < c.RegistrarMinExpires {
		c.RegistrarMaxExpires = c.RegistrarMinExpires
	}
	if c.RegistrarDefaultExpires <= 0 {
		c.RegistrarDefaultExpires = DefaultRegistrarDefaultExpires
	}
	c.RegistrarDefaultExpires = min(max(c.RegistrarDefaultExpires, c.RegistrarMinExpires), c.RegistrarMaxExpires)
	return c
}

// defaultHost derives our advertised host from the listen address.
func defaultHost(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if host == "" {
			return firstNonLoopback()
		}
		return host
	}
	if ip.IsUnspecified() {
		return firstNonLoopback()
	}
	return ip.String()
}

func firstNonLoopback() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.1"
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr().String()
		}
	}
	return "127.0.0.1"
}

// secret returns a password given directly or through an environment variable.
func secret(direct, env, what string) (string, error) {
	if env == "" {
		return direct, nil
	}
	v, ok := os.LookupEnv(env)
	if !ok {
		return "", fmt.Errorf("%w: %s: environment variable %s is not set", ErrConfig, what, env)
	}
	return v, nil
}

// parsePrefixes parses trusted sources: CIDR prefixes or single addresses.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, unmapPrefix(p.Masked()))
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted source %q is not a prefix or address", ErrConfig, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n >= 96) into a.b.c.d/(n-96).
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}

func (c Config) inboundUsers() (map[string]string, error) {
	m := make(map[string]string, len(c.InboundUsers))
	for _, u := range c.InboundUsers {
		if u.Username == "" || checkHeaderValue(u.Username) != nil {
			return nil, fmt.Errorf("%w: inbound user needs a clean username", ErrConfig)
		}
		pw, err := secret(u.Password, u.PasswordEnv, "inbound user "+u.Username)
		if err != nil {
			return nil, err
		}
		if pw == "" {
			return nil, fmt.Errorf("%w: inbound user %s has no password", ErrConfig, u.Username)
		}
		m[u.Username] = pw
	}
	return m, nil
}
