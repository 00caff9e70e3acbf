package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// hostPolicy decides which Host headers the HTTP listener answers: the
// defence against DNS rebinding, where an attacker's name resolves to the
// gateway's address and the browser sends Host (and Origin) with that name.
//
// Allowed without configuration, with the listen port only: the listen
// address; when bound to loopback, "localhost" and every loopback IP; when
// bound to all interfaces (0.0.0.0, ::), those plus the IPs of the
// machine's interfaces at start. Configured entries (allowed_hosts) are a
// name or IP, which matches on any port (the port is not what a rebinding
// attacker controls: the name is), or name:port, which matches that port
// only. A Host without a port means port 80.
type hostPolicy struct {
	port     string
	loopback bool                // localhost and loopback IPs on port
	ips      map[netip.Addr]bool // IPs on port
	anyPort  map[string]bool     // configured names, any port
	withPort map[string]bool     // configured name:port
}

// errHostEntry is a malformed allowed_hosts entry.
var errHostEntry = errors.New("allowed_hosts: entries are a name, an IP, name:port or [IPv6]:port")

// newHostPolicy builds the policy for a listener bound to addr.
func newHostPolicy(addr *net.TCPAddr, allowed []string, ifaceIPs func() []netip.Addr) (*hostPolicy, error) {
	p := &hostPolicy{port: strconv.Itoa(addr.Port), ips: map[netip.Addr]bool{},
		anyPort: map[string]bool{}, withPort: map[string]bool{}}
	ip, _ := netip.AddrFromSlice(addr.IP)
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		p.loopback = true
	case ip.IsUnspecified():
		p.loopback = true
		for _, a := range ifaceIPs() {
			p.ips[a.Unmap()] = true
		}
	}
	p.ips[ip] = true
	for _, e := range allowed {
		if err := p.add(e); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *hostPolicy) add(entry string) error {
	host, port, hasPort, err := parseHostEntry(entry)
	if err != nil {
		return err
	}
	if hasPort {
		p.withPort[host+" "+port] = true
	} else {
		p.anyPort[host] = true
	}
	return nil
}

// parseHostEntry checks and splits one allowed_hosts entry.
func parseHostEntry(entry string) (host, port string, hasPort bool, err error) {
	host, port, hasPort = splitHost(entry)
	if host == "" || strings.ContainsAny(entry, "/@ ") {
		return "", "", false, fmt.Errorf("%w: %q", errHostEntry, entry)
	}
	return host, port, hasPort, nil
}

// splitHost returns the lower-case host (brackets and a trailing dot
// removed) and the port of a Host header or an allowed_hosts entry.
func splitHost(s string) (host, port string, hasPort bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "80"
	} else {
		hasPort = true
	}
	host = strings.TrimSuffix(strings.Trim(strings.ToLower(host), "[]"), ".")
	return host, port, hasPort
}

// allows reports whether the gateway serves Host h.
func (p *hostPolicy) allows(h string) bool {
	if h == "" {
		return false
	}
	host, port, _ := splitHost(h)
	if p.anyPort[host] || p.withPort[host+" "+port] {
		return true
	}
	if port != p.port {
		return false
	}
	if host == "localhost" {
		return p.loopback
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return p.ips[ip] || (p.loopback && ip.IsLoopback())
}

// wrap refuses every request whose Host the gateway does not serve with
// 421 Misdirected Request, before any handler (and so before any
// WebSocket upgrade) runs.
func (p *hostPolicy) wrap(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.allows(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		host := truncate(r.Host, 255)
		log.Warn("request refused: Host not served here (DNS rebinding?); add it to allowed_hosts if it is yours",
			"host", host, "remote", r.RemoteAddr, "path", truncate(r.URL.Path, 255))
		http.Error(w, fmt.Sprintf("sigbridge does not serve Host %q; the operator can add it to allowed_hosts", host),
			http.StatusMisdirectedRequest)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// interfaceIPs returns the unicast IPs of the machine's interfaces.
func interfaceIPs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, pfx.Addr())
		}
	}
	return out
}

// errAnonymous refuses to serve anonymous users beyond loopback.
var errAnonymous = errors.New("refusing to listen beyond loopback without ws.token_secret: " +
	"anyone who reaches the port could log in under any name and call through every route; " +
	"set ws.token_secret, or allow_anonymous: true to accept that")

// checkAnonymous refuses a listener that is not on loopback when users are
// not authenticated, unless the configuration accepts it.
func checkAnonymous(addr *net.TCPAddr, cfg Config) error {
	if addr.IP.IsLoopback() || cfg.WS.TokenSecret != "" || cfg.AllowAnonymous {
		return nil
	}
	return fmt.Errorf("http %s: %w", addr, errAnonymous)
}
