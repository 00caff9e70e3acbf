package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/sigbridge/sigbridge/gateway"
)

// route is a compiled Route.
type route struct {
	name         string
	match        *regexp.Regexp
	prefix       string
	proxy        *sip.Uri
	domain       string
	transport    string
	username     string
	password     string
	numbers      *regexp.Regexp
	allowPrivate bool
	anchored     bool // media: rtpengine
}

// egressPlan is where and how one outbound call goes.
type egressPlan struct {
	route *route
	ruri  sip.Uri
	aor   *sip.Uri // To of a call to a registered user (else the Request-URI)
	flow  flow     // a registered binding's flow (else none: resolve ruri)
}

// badUserChars may never appear in a dialed user part (dial-string
// injection such as "500&SIP/itsp/1", parameters smuggled with ";" or "?").
const badUserChars = ";?&@<>\"%\\'`|{}[]^ \t\r\n"

var looksNumeric = regexp.MustCompile(`^\+?[0-9]+$`)

const resolveTimeout = 2 * time.Second

func compileRoutes(rs []Route) ([]*route, error) {
	out := make([]*route, 0, len(rs))
	for i, r := range rs {
		c, err := compileRoute(r)
		if err != nil {
			return nil, fmt.Errorf("%w: route %d (%s): %w", ErrConfig, i, r.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func compileRoute(r Route) (*route, error) {
	if r.Match == "" && r.Prefix == "" {
		return nil, fmt.Errorf("needs match or prefix")
	}
	c := &route{name: r.Name, prefix: r.Prefix, domain: r.Domain, username: r.Username,
		allowPrivate: r.AllowPrivate, numbers: e164}
	if c.name == "" {
		c.name = r.Match + r.Prefix
	}
	var err error
	if r.Match != "" {
		if c.match, err = regexp.Compile(r.Match); err != nil {
			return nil, err
		}
	}
	if r.Numbers != "" {
		if c.numbers, err = regexp.Compile(r.Numbers); err != nil {
			return nil, err
		}
	}
	switch strings.ToLower(strings.TrimSpace(r.Media)) {
	case "", MediaDirect:
	case MediaRTPEngine:
		c.anchored = true
	default:
		return nil, fmt.Errorf("media %q (want %s or %s)", r.Media, MediaDirect, MediaRTPEngine)
	}
	if c.transport, err = transportName(r.Transport); err != nil {
		return nil, err
	}
	if c.password, err = secret(r.Password, r.PasswordEnv, "route "+c.name); err != nil {
		return nil, err
	}
	return c, c.setProxy(r.Proxy)
}

func (c *route) setProxy(s string) error {
	if s == "" {
		return nil
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil || u.Host == "" {
		return fmt.Errorf("bad proxy URI %q", s)
	}
	if checkHeaderValue(s) != nil {
		return fmt.Errorf("bad proxy URI %q", s)
	}
	c.proxy = &u
	if tr, ok := u.UriParams.Get("transport"); ok && c.transport == "" {
		t, err := transportName(tr)
		if err != nil {
			return err
		}
		c.transport = t
	}
	if c.domain == "" {
		c.domain = u.Host
	}
	return nil
}

// transportName maps a configured transport to sipgo's name; "" is auto:
// UDP, or TCP for requests over 1300 bytes (RFC 3261 §18.1.1).
func transportName(s string) (string, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "udp":
		return "UDP", nil
	case "tcp":
		return "TCP", nil
	case "tls":
		return "TLS", nil
	case "ws":
		return "WS", nil
	case "wss":
		return "WSS", nil
	}
	return "", fmt.Errorf("unknown transport %q", s)
}

func (c *route) matches(canonical string) bool {
	if c.prefix != "" && !strings.HasPrefix(canonical, c.prefix) {
		return false
	}
	return c.match == nil || c.match.MatchString(canonical)
}

// CheckEgress is the egress policy for sip: and tel: targets. It can be
// installed with gateway.Router.SetPolicy (combined with other policies);
// the adapter also applies it on every Dial. Errors wrap gateway.ErrForbidden.
func (a *Adapter) CheckEgress(from string, t gateway.Target) error {
	if t.Scheme != gateway.SchemeSIP && t.Scheme != gateway.SchemeTel {
		return nil
	}
	if user, ok := a.localUser(t); ok {
		return a.checkLocal(user)
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	_, err := a.planEgress(ctx, t)
	return err
}

// planEgress applies the egress policy to t and returns its route and
// Request-URI.
func (a *Adapter) planEgress(ctx context.Context, t gateway.Target) (egressPlan, error) {
	if err := checkDialUser(t.User); err != nil {
		return egressPlan{}, err
	}
	rt := a.findRoute(t.String())
	if rt == nil {
		return egressPlan{}, forbidden("no route for %s", t.String())
	}
	if (t.Scheme == gateway.SchemeTel || looksNumeric.MatchString(t.User)) && !rt.numbers.MatchString(t.User) {
		return egressPlan{}, forbidden("number %q not allowed on route %s", t.User, rt.name)
	}
	if t.Scheme == gateway.SchemeTel {
		return a.planTel(rt, t)
	}
	return a.planSIP(ctx, rt, t)
}

func (a *Adapter) findRoute(canonical string) *route {
	for _, r := range a.routes {
		if r.matches(canonical) {
			return r
		}
	}
	return nil
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: %s", gateway.ErrForbidden, fmt.Sprintf(format, args...))
}

// checkDialUser refuses user parts that could inject into a dial string or
// a header: separators, quotes, escapes, white space, controls, non-ASCII.
func checkDialUser(u string) error {
	if len(u) > 64 {
		return forbidden("user part too long")
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c < 0x21 || c > 0x7e || strings.IndexByte(badUserChars, c) >= 0 {
			return forbidden("character %q not allowed in user part", c)
		}
	}
	return nil
}

func (a *Adapter) planTel(rt *route, t gateway.Target) (egressPlan, error) {
	if rt.domain == "" {
		return egressPlan{}, forbidden("route %s has no trunk for numbers", rt.name)
	}
	params := sip.NewParams()
	params.Add("user", "phone")
	ruri := sip.Uri{Scheme: "sip", User: t.User, Host: rt.domain, UriParams: params}
	return egressPlan{route: rt, ruri: ruri}, nil
}

func (a *Adapter) planSIP(ctx context.Context, rt *route, t gateway.Target) (egressPlan, error) {
	host, port, err := splitHostPort(t.Host)
	if err != nil {
		return egressPlan{}, forbidden("bad host %q", t.Host)
	}
	if err := a.checkHost(ctx, rt, host, port); err != nil {
		return egressPlan{}, err
	}
	scheme := "sip"
	if t.Secure {
		scheme = "sips"
	}
	return egressPlan{route: rt, ruri: sip.Uri{Scheme: scheme, User: t.User, Host: host, Port: port}}, nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(hp string) (string, int, error) {
	if hp == "" || strings.ContainsAny(hp, ";?&@<>\"/\\ ") {
		return "", 0, fmt.Errorf("bad host")
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return strings.Trim(hp, "[]"), 0, validHost(strings.Trim(hp, "[]"))
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port")
	}
	return h, port, validHost(h)
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)

func validHost(h string) error {
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if !hostnameRE.MatchString(h) {
		return fmt.Errorf("bad host name")
	}
	return nil
}

// checkHost refuses loopback, private, link-local and our own addresses
// (SSRF) unless the route allows private targets. Names are resolved when
// the call goes straight to them (no proxy).
func (a *Adapter) checkHost(ctx context.Context, rt *route, host string, port int) error {
	if a.isSelf(host, port) {
		return forbidden("target is this gateway")
	}
	if rt.allowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkAddr(ip)
	}
	if rt.proxy != nil {
		return nil
	}
	return a.checkResolved(ctx, host)
}

func (a *Adapter) checkResolved(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ips, err := a.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		// Unresolvable now: the transport will fail the call later; SRV-only
		// domains are allowed through, their targets are not checked.
		return nil
	}
	for _, ip := range ips {
		if err := checkAddr(ip); err != nil {
			return err
		}
	}
	return nil
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

func checkAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() ||
		ip.IsMulticast() || ip.IsLinkLocalMulticast() || sharedSpace.Contains(ip) {
		return forbidden("address %s is not routable from here", ip)
	}
	return nil
}

func (a *Adapter) isSelf(host string, port int) bool {
	if port == 0 {
		port = 5060
	}
	for _, hp := range a.selfAddrs() {
		h, p, err := net.SplitHostPort(hp)
		if err == nil && strings.EqualFold(h, host) && portIs(p, port) {
			return true
		}
	}
	return false
}

// portIs reports whether p is strconv.Itoa(port), without making that
// string.
func portIs(p string, port int) bool {
	var b [20]byte
	return p == string(strconv.AppendInt(b[:0], int64(port), 10))
}
