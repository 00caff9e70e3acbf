package xmpp

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/sigbridge/sigbridge/internal/xmppwrite"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// defaultResource is bound in client mode when the JID has none.
const defaultResource = "sigbridge"

// dialClient logs in to the configured account (client mode): STARTTLS
// (required unless the server is on loopback), SASL (SCRAM, then PLAIN),
// resource binding, then an available presence with caps so that the
// server routes JMI proposals to us.
func (a *Adapter) dialClient(ctx context.Context) (*stream, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	origin, server, err := a.clientTarget()
	if err != nil {
		return nil, err
	}
	nc, loopback, err := dialServer(ctx, server)
	if err != nil {
		return nil, err
	}
	st := a.newStream(origin)
	st.conn = newFramedConn(nc, a.cfg.MaxStanzaBytes, st.onReject)
	state, features := a.clientFeatures(st, loopback)
	st.s, err = xmppwrite.Negotiate(ctx, st.conn, func(ctx context.Context) (*xmpp.Session, error) {
		return xmpp.NewSession(ctx, origin.Domain(), origin, st.conn, state,
			xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
				return xmpp.StreamConfig{Features: features}
			}))
	})
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("xmpp: log in as %s: %w", origin.String(), err)
	}
	st.w = xmppwrite.New(st.s, st.conn, sendTimeout)
	st.local = st.s.LocalAddr()
	if err := st.send(ctx, a.available(st.local, jid.JID{}), "presence"); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return st, nil
}

// clientTarget returns the JID to log in as and the server address.
func (a *Adapter) clientTarget() (jid.JID, string, error) {
	origin, err := jid.Parse(a.cfg.Client.JID)
	if err != nil {
		return jid.JID{}, "", fmt.Errorf("%w: client.jid: %w", ErrConfig, err)
	}
	if origin.Resourcepart() == "" {
		if origin, err = origin.WithResource(defaultResource); err != nil {
			return jid.JID{}, "", err
		}
	}
	server := a.cfg.Client.Server
	if server == "" {
		server = net.JoinHostPort(origin.Domainpart(), "5222")
	}
	return origin, server, nil
}

// dialServer connects and reports whether the peer is on loopback.
func dialServer(ctx context.Context, server string) (net.Conn, bool, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, false, fmt.Errorf("xmpp: dial %s: %w", server, err)
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	return nc, err == nil && ap.Addr().Unmap().IsLoopback(), nil
}

// clientFeatures lists the stream features to negotiate. On loopback the
// stream counts as secure from the start (no STARTTLS, as a local test
// server has no certificate); elsewhere STARTTLS comes first.
func (a *Adapter) clientFeatures(st *stream, loopback bool) (xmpp.SessionState, []xmpp.StreamFeature) {
	auth := xmpp.SASL("", a.secret, sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain)
	if loopback && a.tlsConfig == nil {
		return xmpp.Secure, []xmpp.StreamFeature{auth, xmpp.BindResource()}
	}
	cfg := &tls.Config{ServerName: st.local.Domainpart(), MinVersion: tls.VersionTLS12}
	if a.tlsConfig != nil {
		cfg = a.tlsConfig.Clone()
	}
	st.conn.expectTLS()
	return 0, []xmpp.StreamFeature{a.startTLS(st, cfg), auth, xmpp.BindResource()}
}

// startTLS wraps mellium's STARTTLS feature so that a new framer runs above
// TLS and the one below it passes the encrypted bytes through.
func (a *Adapter) startTLS(st *stream, cfg *tls.Config) xmpp.StreamFeature {
	f := xmpp.StartTLS(cfg)
	negotiate := f.Negotiate
	f.Negotiate = func(ctx context.Context, s *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		mask, rw, err := negotiate(ctx, s, data)
		tc, ok := rw.(net.Conn)
		if err != nil || !ok {
			return mask, rw, err
		}
		st.conn.setRaw()
		return mask, newFramedConn(tc, a.cfg.MaxStanzaBytes, st.onReject), nil
	}
	return f
}
