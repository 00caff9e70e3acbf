package xmpp

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/sigbridge/sigbridge/internal/xmppwrite"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
)

// dialTimeout bounds connecting and negotiating one stream.
const dialTimeout = 10 * time.Second

// dialComponent connects to the server's component port and performs the
// XEP-0114 handshake for the configured domain.
func (a *Adapter) dialComponent(ctx context.Context) (*stream, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	addr, err := resolveDial(ctx, a.cfg.Component.Addr, a.cfg.Component.AllowPublic)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("xmpp: dial component port: %w", err)
	}
	domain := a.addr.Domain()
	st := a.newStream(domain)
	st.conn = newFramedConn(nc, a.cfg.MaxStanzaBytes, st.onReject)
	st.s, err = xmppwrite.Negotiate(ctx, st.conn, func(ctx context.Context) (*xmpp.Session, error) {
		return component.NewSession(ctx, domain, []byte(a.secret), st.conn)
	})
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("xmpp: component handshake as %s: %w", domain.String(), err)
	}
	st.w = xmppwrite.New(st.s, st.conn, sendTimeout)
	return st, nil
}

// resolveDial resolves addr and returns the first address we may dial: a
// loopback or private one unless allowPublic.
func resolveDial(ctx context.Context, addr string, allowPublic bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrConfig, addr, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("xmpp: resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if allowPublic || isPrivate(ip) {
			return net.JoinHostPort(ip.Unmap().String(), port), nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrPublicBind, addr)
}
