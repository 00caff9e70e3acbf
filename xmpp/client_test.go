package xmpp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"mellium.im/xmpp/jid"
)

func TestClientModeCalls(t *testing.T) {
	e := newClientEnv(t, "bob")
	romeo := e.login("romeo")
	juliet := e.login("juliet")
	ctx := ctxFor(t, 60*time.Second)
	gwJID := jid.MustParse("gateway@localhost")

	// romeo names the target in the propose.
	call, leg := clientCall(t, e, romeo, gwJID, "alice")
	if leg.name != "alice" {
		t.Errorf("dialed %s, want alice", leg.name)
	}
	assertMedia(t, ctx, call.Media, leg.peer)
	_ = call.Hangup(ctx, "success")
	leg.waitHangup(t, 5*time.Second)

	// No target: the default one.
	call, leg = clientCall(t, e, romeo, gwJID, "")
	if leg.name != "bob" {
		t.Errorf("dialed %s, want the default bob", leg.name)
	}
	call.Close()
	leg.hangup()

	// A browser calls juliet: the proposal comes from the account.
	answered := make(chan *xmpptest.Call, 1)
	go func() {
		c, err := juliet.Answer(ctx)
		if err != nil {
			t.Error(err)
		}
		answered <- c
	}()
	b, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	jc := <-answered
	if jc == nil {
		t.FailNow()
	}
	t.Cleanup(jc.Close)
	if got := jc.Remote.Bare().String(); got != "gateway@localhost" {
		t.Errorf("callee sees %s", got)
	}
	assertMedia(t, ctx, jc.Media, b.peer)
	b.hangup()
	select {
	case r := <-jc.Ended():
		if r == nil || r.Condition != gateway.CondSuccess {
			t.Errorf("terminate %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("no terminate")
	}
}

// newClientEnv runs the adapter in client mode as gateway@localhost.
func newClientEnv(t *testing.T, defaultTarget string) *env {
	t.Helper()
	return newEnv(t, func(c *Config, p *xmpptest.Prosody) {
		c.Component = ComponentConfig{}
		c.Client = ClientConfig{JID: "gateway@localhost", Password: testUsers["gateway"], Server: p.C2SAddr,
			DefaultTarget: defaultTarget}
	})
}

func clientCall(t *testing.T, e *env, c *xmpptest.Client, to jid.JID, target string) (*xmpptest.Call, *browserLeg) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	done := make(chan *xmpptest.Call, 1)
	go func() {
		call, err := c.Call(ctx, to, xmpptest.CallOptions{Target: target})
		if err != nil {
			t.Error(err)
		}
		done <- call
	}()
	leg, err := e.browsers.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call := <-done
	if call == nil {
		t.FailNow()
	}
	t.Cleanup(call.Close)
	return call, leg
}

// Client mode over STARTTLS: the framer hands over to TLS at <proceed/>
// and a new framer runs above it; calls work on the encrypted stream.
func TestClientModeSTARTTLS(t *testing.T) {
	certPEM, keyPEM, pool := selfSigned(t, "localhost")
	e := newEnvWith(t, xmpptest.ProsodyConfig{Users: testUsers, CertPEM: certPEM, KeyPEM: keyPEM},
		func(c *Config, p *xmpptest.Prosody) {
			c.Component = ComponentConfig{}
			c.Client = ClientConfig{JID: "gateway@localhost", Password: testUsers["gateway"], Server: p.C2SAddr,
				DefaultTarget: "alice"}
		},
		func(a *Adapter) {
			a.tlsConfig = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		})
	st := e.a.stream()
	if st == nil || !st.s.ConnectionState().HandshakeComplete {
		t.Fatal("the client stream is not TLS")
	}
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)
	call, leg := clientCall(t, e, romeo, jid.MustParse("gateway@localhost"), "")
	assertMedia(t, ctx, call.Media, leg.peer)
	_ = call.Hangup(ctx, "success")
	leg.waitHangup(t, 5*time.Second)
}

// selfSigned returns a certificate for host, its key and a pool trusting it.
func selfSigned(t *testing.T, host string) ([]byte, []byte, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pool
}
