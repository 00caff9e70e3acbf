package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// LocalOptions describe a local deployment started by the harness.
type LocalOptions struct {
	// Binary is the sigbridge binary; it runs as `Binary serve --config F`.
	Binary string
	// Dir receives the generated configuration and the gateway's log
	// (default: a new temporary directory, removed by Close).
	Dir string
	// RingTimeout is the gateway's ring timeout (default 3 s, so that the
	// no-answer scenarios stay short).
	RingTimeout time.Duration
	// StartTimeout bounds the start (default 20 s).
	StartTimeout time.Duration
	// Log receives the harness's diagnostics; nil discards them.
	Log *slog.Logger
	// Prosody is the prosody binary: when set, the harness starts a
	// Prosody on loopback (two accounts for its Jingle caller and callee)
	// and the gateway joins it as an XEP-0114 component. "" leaves the
	// deployment without XMPP.
	Prosody string

	// ClientAddr is an IPv4 address of this host outside 127/8 and not a
	// trusted source of the gateway, for the third-party SIP clients
	// (baresip binds there; the SIP WebSocket listener listens there, so
	// JsSIP connects from it): both must pass the digest challenge. Default:
	// such an address on lo, if any (the tests and the CI add 10.99.0.1/32
	// to lo in their network namespace).
	ClientAddr string
	// DigestAlgorithms are the gateway's sip.digest_algorithms (default
	// [MD5]: baresip 1.0 aborts on any other challenge).
	DigestAlgorithms []string
	// Rtpengine is the rtpengine binary (Debian rtpengine-daemon): when
	// set, the harness starts it on loopback, the gateway gets it as its
	// media relay (the top-level rtpengine block) and a route that anchors
	// the harness's plain-RTP callees (sip:plainrtp-*@127.0.0.1, `media:
	// rtpengine`), so the plain-RTP scenarios run. "" leaves them
	// unsupported.
	Rtpengine string
	// InjectDTMF sets the gateway's rtpengine.inject_dtmf: browser dtmf
	// messages on anchored calls are played into the media (rtpengine
	// play DTMF) instead of sent as SIP INFO.
	InjectDTMF bool

	// Cluster makes the gateway one node of a cluster (sigbridge's
	// cluster section): the NATS URLs and this node's name. Its XMPP
	// component may then run on another node, so StartLocal does not wait
	// for it (Local.XMPPUp tells when this node holds it).
	Cluster *LocalCluster

	// shared are the parts of a cluster's first node that the other nodes
	// use too (its Prosody, the SIPp callees' address); nil for the first.
	shared *Local

	noSIP  bool // the binary refused the sip section
	noAlgs bool // the binary refused sip.digest_algorithms
	noXMPP bool // the binary refused the xmpp section
	noRTP  bool // the binary refused the rtpengine block or a route's media
	ng     string
}

// LocalCluster names a cluster a local gateway joins. The node keeps
// sigbridge's default heartbeat interval and node timeout (1 s, 3 s):
// shorter ones let a busy test machine declare a live node dead.
type LocalCluster struct {
	NATS []string // nats://127.0.0.1:port
	Node string
}

// Local is a running local deployment: a sigbridge subprocess on loopback.
// Close stops it.
type Local struct {
	Deployment
	// LogFile is the gateway's log.
	LogFile string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	xmppUp  chan struct{} // closed when the gateway logged its XMPP stream up
	xmppOne sync.Once
	// sharedProsody: the Prosody is another node's (Close leaves it).
	sharedProsody bool
	tmp           string
	once          sync.Once
	log           *slog.Logger
	prosody       *prosodyServer
	rtp           *rtpengineServer
}

// servingRE finds the HTTP address in the gateway's "sigbridge serving" log line.
var servingRE = regexp.MustCompile(`msg="sigbridge serving".* http=(\S+)`)

// StartLocal writes a configuration, starts `sigbridge serve` with it and
// returns once the gateway is ready (GET /readyz is 200).
func StartLocal(ctx context.Context, o LocalOptions) (*Local, error) {
	o = o.withDefaults()
	l := newLocal(o.Log)
	if err := l.prepareDir(&o); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	var prosody *prosodyServer
	if o.shared != nil {
		l.prosody, l.sharedProsody = o.shared.prosody, true
	} else if o.Prosody != "" {
		p, err := startProsody(ctx, o.Prosody, o.Dir, o.Log)
		if err != nil {
			l.removeTmp()
			return nil, err
		}
		prosody = p
	}
	if o.shared == nil {
		l.prosody = prosody
	}
	if o.Rtpengine != "" && !o.noSIP {
		r, err := startRtpengine(ctx, o.Rtpengine, o.Dir, o.Log)
		if err != nil {
			_ = l.Close()
			return nil, err
		}
		l.rtp, o.ng = r, r.NG
	}
	cfg, addr, err := l.startGateway(ctx, &o)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	l.Deployment = Deployment{Name: "local sigbridge " + addr, WS: "ws://" + addr + "/ws",
		RingTimeout: o.RingTimeout, VanishTimeout: localVanishTimeout, Log: o.Log}
	if cfg.sip != "" {
		l.SIP = &SIPDeployment{Gateway: "sip:" + cfg.sip, SIPpListen: cfg.sipp, WS: "ws://" + cfg.sipWS + "/sip",
			Realm: localRealm, JsSIPUser: &cfg.jssip, BaresipUser: &cfg.baresip, ClientAddr: o.ClientAddr,
			PlainRTP: cfg.rtpengine}
		l.ProbeInterval = localProbeInterval
	}
	if err := waitReady(ctx, "http://"+addr+"/readyz", l.exited); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("%w (log: %s)", err, l.LogFile)
	}
	if l.SIP != nil {
		l.SIP.Registrar = hasRegistrar(ctx, cfg.sip)
	}
	if cfg.xmpp {
		if o.Cluster == nil {
			if err := l.waitXMPP(ctx); err != nil {
				_ = l.Close()
				return nil, err
			}
		}
		p := l.prosody
		l.XMPP = &XMPPDeployment{Server: p.C2S, Domain: p.Domain, Component: p.Component, Caller: p.Caller,
			Callee: p.Callee, WebSocket: p.WebSocket}
	}
	return l, nil
}

func newLocal(log *slog.Logger) *Local {
	return &Local{exited: make(chan struct{}), xmppUp: make(chan struct{}), log: log}
}

// startGateway writes the config and starts the gateway; a binary that
// refuses the sip or xmpp section (a build without that adapter) is
// started again without it.
func (l *Local) startGateway(ctx context.Context, o *LocalOptions) (localConfig, string, error) {
	for {
		cfg, err := writeLocalConfig(*o, l.prosody)
		if err != nil {
			return cfg, "", err
		}
		addr, err := l.start(ctx, *o, cfg.path, cfg.xmpp)
		if err == nil {
			return cfg, addr, nil
		}
		switch {
		case cfg.sip != "" && l.refusedSection("sip"):
			o.Log.Info("this sigbridge has no SIP adapter in its config; SIP scenarios will be unsupported")
			o.noSIP = true
		case cfg.sip != "" && !o.noAlgs && l.refusedSection("digest_algorithms"):
			o.Log.Info("this sigbridge has no sip.digest_algorithms; baresip (MD5 only) will fail the challenge")
			o.noAlgs = true
		case cfg.rtpengine && (l.refusedSection("rtpengine") || l.refusedSection("media")):
			o.Log.Info("this sigbridge has no rtpengine anchoring in its config; plain-RTP scenarios will be unsupported")
			o.noRTP = true
		case cfg.xmpp && l.refusedSection("xmpp"):
			o.Log.Info("this sigbridge has no XMPP adapter in its config; Jingle scenarios will be unsupported")
			o.noXMPP = true
		default:
			return cfg, "", err
		}
		*l = Local{exited: make(chan struct{}), xmppUp: make(chan struct{}), log: o.Log, tmp: l.tmp, prosody: l.prosody,
			rtp: l.rtp, sharedProsody: l.sharedProsody}
	}
}

// waitXMPP waits until the gateway's component stream is up.
func (l *Local) waitXMPP(ctx context.Context) error {
	select {
	case <-l.xmppUp:
		return nil
	case <-l.exited:
		return fmt.Errorf("interop: sigbridge exited before its XMPP component was up (log: %s)", l.LogFile)
	case <-ctx.Done():
		return fmt.Errorf("interop: the gateway's XMPP component did not connect to prosody: %w (log: %s)",
			ctx.Err(), l.LogFile)
	}
}

func (o LocalOptions) withDefaults() LocalOptions {
	if o.RingTimeout <= 0 {
		o.RingTimeout = 3 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 20 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ClientAddr == "" {
		o.ClientAddr = loClientAddr()
	}
	if len(o.DigestAlgorithms) == 0 {
		o.DigestAlgorithms = []string{"MD5"}
	}
	return o
}

func (l *Local) prepareDir(o *LocalOptions) error {
	if o.Dir != "" {
		return os.MkdirAll(o.Dir, 0o755)
	}
	dir, err := os.MkdirTemp("", "sigbridge-interop-")
	if err != nil {
		return fmt.Errorf("interop: temp dir: %w", err)
	}
	o.Dir, l.tmp = dir, dir
	return nil
}

// localConfig is a written configuration and what it enables.
type localConfig struct {
	path string
	sip  string // the gateway's SIP address, "" without SIP
	sipp string // where SIPp callees listen (routed over TCP)
	// sipWS is the SIP WebSocket listener's address; jssip and baresip
	// are the gateway's digest users of the third-party clients.
	sipWS          string
	jssip, baresip SIPAccount
	xmpp           bool // the gateway joins the harness's Prosody as a component
	rtpengine      bool // the gateway anchors plain-RTP calls through the harness's rtpengine
}

// localVanishTimeout bounds the local gateway's detection of a vanished
// peer: probes every 1 s, answered within 1 s (SIP) or 2 s (XMPP).
const localVanishTimeout = 10 * time.Second

// xmppSecretEnv carries the component secret to the gateway (not in the
// config file).
const xmppSecretEnv = "SIGBRIDGE_INTEROP_XMPP_SECRET"

// writeLocalConfig writes the gateway's YAML configuration: loopback only,
// a short ring timeout and drain; SIP on a free loopback port, trusting
// loopback callers and routing only to loopback SIP URIs (the harness's
// SIP callees).
func writeLocalConfig(o LocalOptions, p *prosodyServer) (localConfig, error) {
	var c localConfig
	var b strings.Builder
	b.WriteString("http: 127.0.0.1:0\nlog_level: debug\ndrain_timeout: 1s\n")
	fmt.Fprintf(&b, "gateway:\n  ring_timeout: %s\n", o.RingTimeout)
	if !o.noSIP {
		port, err := freeSIPPort()
		if err != nil {
			return c, err
		}
		c.sip = "127.0.0.1:" + strconv.Itoa(port)
		if o.shared != nil && o.shared.SIP != nil {
			c.sipp = o.shared.SIP.SIPpListen // one SIPp address, routed by every node
		} else if port, err = freeSIPPort(); err != nil {
			return c, err
		} else {
			c.sipp = "127.0.0.1:" + strconv.Itoa(port)
		}
		c.rtpengine = o.ng != "" && !o.noRTP
		plain := ""
		if c.rtpengine {
			plain = plainRTPRoute
		}
		fmt.Fprintf(&b, sipSection, c.sip, regexp.QuoteMeta(c.sipp), plain)
		if err := writeClientSIP(&b, &c, o); err != nil {
			return c, err
		}
	}
	if c.rtpengine {
		fmt.Fprintf(&b, "rtpengine:\n  ng: [%s]\n", o.ng)
		if o.InjectDTMF {
			b.WriteString("  inject_dtmf: true\n")
		}
	}
	if p != nil && !o.noXMPP {
		c.xmpp = true
		fmt.Fprintf(&b, xmppSection, p.ComponentAddr, p.Component, xmppSecretEnv)
	}
	if cl := o.Cluster; cl != nil {
		fmt.Fprintf(&b, "cluster:\n  nats: [%s]\n  node: %s\n", strings.Join(cl.NATS, ", "), cl.Node)
	}
	c.path = filepath.Join(o.Dir, "sigbridge.yaml")
	if err := os.WriteFile(c.path, []byte(b.String()), 0o600); err != nil {
		return c, fmt.Errorf("interop: write config: %w", err)
	}
	return c, nil
}

// sipSection lets SIP callers on loopback in without a challenge and
// routes loopback SIP URIs to the harness: the SIPp callees' address over
// TCP (SIPp listens on one transport), the others with the adapter's
// default (UDP, TCP above 1300 bytes). The per-caller rates are raised:
// the harness places many calls back to back.
const sipSection = `sip:
  listen: %s
  trusted_sources: ["127.0.0.1/32"]
  calls_per_second: 50
  calls_burst: 100
  dialog_probe_interval: 1s
  dialog_probe_timeout: 1s
  routes:
    - name: interop-sipp
      match: '^sip:[^@]+@%s$'
      transport: tcp
      allow_private: true
%s    - name: interop
      match: '^sip:[^@]+@127\.0\.0\.1(:[0-9]+)?$'
      allow_private: true
`

// plainRTPRoute anchors the harness's plain-RTP callees (their user part
// starts with plainRTPUserPrefix) through rtpengine; it precedes the
// harness's other loopback callees (WebRTC SIP UAs, direct media).
const plainRTPRoute = `    - name: interop-plain-rtp
      match: '^sip:plainrtp-[^@]+@127\.0\.0\.1(:[0-9]+)?$'
      media: rtpengine
      allow_private: true
`

// localRealm is the local gateway's SIP realm: its registered users are
// sip:<user>@sigbridge.test.
const localRealm = "sigbridge.test"

// localProbeInterval is the local gateway's dialog_probe_interval.
const localProbeInterval = time.Second

// writeClientSIP adds what the third-party SIP clients need: the SIP
// WebSocket listener (on the client address, so that JsSIP is not a
// trusted source), two digest users with random passwords (inline: the
// config file is private to the run), MD5-only challenges (baresip 1.0
// aborts on any other algorithm; JsSIP reads only one challenge) and a
// route to the client address (a baresip callee when the gateway has no
// registrar).
func writeClientSIP(b *strings.Builder, c *localConfig, o LocalOptions) error {
	host := o.ClientAddr
	if host == "" {
		host = "127.0.0.1"
	}
	port, err := freeTCPPortOn(host)
	if err != nil {
		return err
	}
	c.sipWS = net.JoinHostPort(host, strconv.Itoa(port))
	c.jssip = SIPAccount{User: "interop-jssip", Password: randomSecret()}
	c.baresip = SIPAccount{User: "interop-baresip", Password: randomSecret()}
	if o.ClientAddr != "" { // continues sipSection's routes
		fmt.Fprintf(b, "    - name: interop-clients\n      match: '^sip:[^@]+@%s(:[0-9]+)?$'\n      allow_private: true\n",
			regexp.QuoteMeta(o.ClientAddr))
	}
	fmt.Fprintf(b, "  realm: %s\n  ws_listen: %s\n", localRealm, c.sipWS)
	if !o.noAlgs {
		fmt.Fprintf(b, "  digest_algorithms: [%s]\n", strings.Join(o.DigestAlgorithms, ", "))
	}
	fmt.Fprintf(b, "  inbound_users:\n    - username: %s\n      password: %q\n    - username: %s\n      password: %q\n",
		c.jssip.User, c.jssip.Password, c.baresip.User, c.baresip.Password)
	return nil
}

// xmppSection joins the harness's Prosody as an XEP-0114 component. Both
// sections probe their peers every second so that a vanished callee is
// noticed within localVanishTimeout.
const xmppSection = `xmpp:
  component:
    addr: %s
    domain: %s
    secret_env: %s
  session_ping_interval: 1s
  session_ping_timeout: 2s
`

// freeSIPPort finds a port free for both UDP and TCP on 127.0.0.1.
func freeSIPPort() (int, error) {
	port, err := daemon.FreePort()
	if err != nil {
		return 0, fmt.Errorf("interop: %w", err)
	}
	return port, nil
}

// refusedSection reports whether the gateway exited because its config
// has no such section (a build without that adapter).
func (l *Local) refusedSection(name string) bool {
	select {
	case <-l.exited:
	case <-time.After(2 * time.Second):
		return false
	}
	b, err := os.ReadFile(l.LogFile)
	return err == nil && strings.Contains(string(b), "field "+name+" not found")
}

// start runs the binary and returns the HTTP address it logged.
func (l *Local) start(ctx context.Context, o LocalOptions, cfg string, xmpp bool) (string, error) {
	l.LogFile = filepath.Join(o.Dir, "sigbridge.log")
	logf, err := os.Create(l.LogFile)
	if err != nil {
		return "", fmt.Errorf("interop: gateway log: %w", err)
	}
	cmd := exec.Command(o.Binary, "serve", "--config", cfg)
	if xmpp {
		cmd.Env = append(os.Environ(), xmppSecretEnv+"="+l.prosody.Secret)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = logf.Close()
		return "", fmt.Errorf("interop: %w", err)
	}
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return "", fmt.Errorf("interop: start %s: %w", o.Binary, err)
	}
	l.cmd = cmd
	addrc := make(chan string, 1)
	go l.watch(stderr, logf, addrc)
	select {
	case addr := <-addrc:
		return addr, nil
	case <-l.exited:
		return "", fmt.Errorf("interop: sigbridge exited at start: %v (log: %s)", l.waitErr, l.LogFile)
	case <-ctx.Done():
		return "", fmt.Errorf("interop: sigbridge did not start: %w (log: %s)", ctx.Err(), l.LogFile)
	}
}

// watch copies the gateway's log to its file, reports the serving address
// and notes the exit.
func (l *Local) watch(stderr io.Reader, logf *os.File, addrc chan<- string) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		_, _ = fmt.Fprintln(logf, line)
		if strings.Contains(line, `msg="xmpp stream up"`) {
			l.xmppOne.Do(func() { close(l.xmppUp) })
		}
		if m := servingRE.FindStringSubmatch(line); m != nil {
			select {
			case addrc <- m[1]:
			default:
			}
		}
	}
	l.waitErr = l.cmd.Wait()
	_ = logf.Close()
	close(l.exited)
}

// waitReady polls url until it answers 200.
func waitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("interop: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("interop: sigbridge exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("interop: %s not ready: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the gateway (SIGTERM, then SIGKILL after 10 s) and removes
// the temporary directory it made.
func (l *Local) Close() error {
	l.once.Do(l.stop)
	return nil
}

func (l *Local) stop() {
	defer l.removeTmp()
	defer l.rtp.Close()
	if !l.sharedProsody {
		defer l.prosody.Close()
	}
	if l.cmd == nil || l.cmd.Process == nil {
		return
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.exited:
	case <-time.After(10 * time.Second):
		l.log.Warn("sigbridge did not stop on SIGTERM; killing it", "pid", l.cmd.Process.Pid)
		_ = l.cmd.Process.Kill()
		<-l.exited
	}
}

// Kill ends the gateway with SIGKILL, as a crash would: no drain, no
// goodbye to the other nodes of a cluster. Close afterwards still cleans
// up.
func (l *Local) Kill() {
	if l.cmd == nil || l.cmd.Process == nil {
		return
	}
	_ = l.cmd.Process.Kill()
	<-l.exited
}

// XMPPUp is closed once the gateway logged its XMPP stream up (in a
// cluster: once this node held the component).
func (l *Local) XMPPUp() <-chan struct{} { return l.xmppUp }

// Exited is closed when the gateway process has exited.
func (l *Local) Exited() <-chan struct{} { return l.exited }

func (l *Local) removeTmp() {
	if l.tmp != "" {
		_ = os.RemoveAll(l.tmp)
	}
}

// loClientAddr returns an IPv4 address of lo outside 127/8, or "".
func loClientAddr() string {
	ifc, err := net.InterfaceByName("lo")
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// freeTCPPortOn returns a TCP port on host that was free just now.
func freeTCPPortOn(host string) (int, error) {
	port, err := daemon.FreeTCPPortOn(host)
	if err != nil {
		return 0, fmt.Errorf("interop: on %s: %w", host, err)
	}
	return port, nil
}

// hasRegistrar asks the gateway's SIP side, over UDP, whether it takes
// REGISTER: a registrar challenges an unauthenticated one (401), a gateway
// without one answers 405.
func hasRegistrar(ctx context.Context, gw string) bool {
	conn, err := net.Dial("udp4", gw)
	if err != nil {
		return false
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	req := "REGISTER sip:" + localRealm + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + newToken() + ";rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:interop-probe@" + localRealm + ">;tag=" + newToken() + "\r\n" +
		"To: <sip:interop-probe@" + localRealm + ">\r\nCall-ID: " + newToken() + "\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:interop-probe@" + local + ">\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n"
	deadline := time.Now().Add(2 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(req)); err != nil {
		return false
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return false
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		if strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		return strings.HasPrefix(line, "SIP/2.0 401") || strings.HasPrefix(line, "SIP/2.0 407") ||
			strings.HasPrefix(line, "SIP/2.0 2")
	}
}
