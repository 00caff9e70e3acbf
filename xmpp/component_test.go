package xmpp

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func TestComponentDisco(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 10*time.Second)
	for _, to := range []string{"", "alice", `bob\40pbx.example.org`} {
		j := e.gwJID(to)
		if to == "" {
			j = j.Domain()
		}
		feats, err := romeo.DiscoInfo(ctx, j)
		if err != nil {
			t.Fatalf("disco#info %s: %v", j, err)
		}
		for _, want := range Features {
			if !slices.Contains(feats, want) {
				t.Errorf("disco#info %s lacks %s", j, want)
			}
		}
	}
	ev, err := romeo.SendIQ(ctx, e.gwJID("alice"), stanza.GetIQ, struct {
		XMLName struct{} `xml:"urn:xmpp:ping ping"`
	}{})
	if err != nil || ev.Type != "result" {
		t.Errorf("ping: %v %+v", err, ev)
	}
	ev, err = romeo.SendIQ(ctx, e.gwJID("alice"), stanza.GetIQ, struct {
		XMLName struct{} `xml:"urn:example:unknown query"`
	}{})
	if err != nil || ev.ErrCond != "service-unavailable" {
		t.Errorf("unknown payload: %v %+v", err, ev)
	}
}

func TestComponentWrongSecret(t *testing.T) {
	e := newEnv(t, nil)
	a, err := New(Config{Component: ComponentConfig{Addr: e.p.ComponentAddr, Domain: e.p.Cfg.Component, Secret: "wrong"}},
		gateway.New(gateway.Config{}, gateway.NewRouter(), nil, nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.dialComponent(ctxFor(t, 5*time.Second)); err == nil {
		t.Fatal("handshake with a wrong secret succeeded")
	}
}

func TestConfigRefusesPublicComponent(t *testing.T) {
	gw := gateway.New(gateway.Config{}, gateway.NewRouter(), nil, nil)
	_, err := New(Config{Component: ComponentConfig{Addr: "8.8.8.8:5347", Domain: "gw.example.org", Secret: "x"}}, gw, nil, nil)
	if !errors.Is(err, ErrPublicBind) {
		t.Errorf("public literal: err = %v, want ErrPublicBind", err)
	}
	if _, err := resolveDial(ctxFor(t, 5*time.Second), "8.8.4.4:5347", false); !errors.Is(err, ErrPublicBind) {
		t.Errorf("resolveDial public: %v", err)
	}
	if _, err := New(Config{Component: ComponentConfig{Addr: "8.8.8.8:5347", Domain: "gw.example.org", Secret: "x",
		AllowPublic: true}}, gw, nil, nil); err != nil {
		t.Errorf("AllowPublic: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:5347", "10.1.2.3:5347", "[::1]:5347", "192.168.1.1:5347"} {
		if _, err := New(Config{Component: ComponentConfig{Addr: addr, Domain: "gw.example.org", Secret: "x"}}, gw, nil, nil); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestConfigSecrets(t *testing.T) {
	gw := gateway.New(gateway.Config{}, gateway.NewRouter(), nil, nil)
	if _, err := New(Config{}, gw, nil, nil); !errors.Is(err, ErrDisabled) {
		t.Errorf("empty config: %v", err)
	}
	if _, err := New(Config{Component: ComponentConfig{Domain: "gw.example.org"}}, gw, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no secret: %v", err)
	}
	t.Setenv("SB_TEST_SECRET", "from-env")
	a, err := New(Config{Component: ComponentConfig{Domain: "gw.example.org", SecretEnv: "SB_TEST_SECRET"}}, gw, nil, nil)
	if err != nil || a.secret != "from-env" {
		t.Errorf("secret from env: %v", err)
	}
	t.Setenv("SB_TEST_PW", "pw")
	a, err = New(Config{Client: ClientConfig{JID: "gw@example.org", PasswordEnv: "SB_TEST_PW"}}, gw, nil, nil)
	if err != nil || a.secret != "pw" {
		t.Errorf("password from env: %v", err)
	}
	if _, err := New(Config{Component: ComponentConfig{Domain: "gw.example.org", Secret: "x"},
		Client: ClientConfig{JID: "a@b", Password: "y"}}, gw, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("both modes: %v", err)
	}
}

// A subscription to a gateway JID is approved and answered with an
// available presence carrying caps (so clients show call buttons).
func TestPresenceSubscription(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 10*time.Second)
	alice := e.gwJID("alice")
	// Fetching the roster makes the session "interested" in subscriptions.
	if _, err := romeo.SendIQ(ctx, jid.JID{}, stanza.GetIQ, struct {
		XMLName struct{} `xml:"jabber:iq:roster query"`
	}{}); err != nil {
		t.Fatal(err)
	}
	if err := romeo.Send(ctx, stanza.Presence{To: alice, Type: stanza.SubscribePresence}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"subscribed", ""} {
		if _, err := romeo.Expect(ctx, func(ev xmpptest.Event) bool {
			return ev.Name == "presence" && ev.Type == typ && ev.From.Bare().Equal(alice)
		}); err != nil {
			t.Errorf("no presence type %q from %s: %v\n%s", typ, alice, err, e.p.LogTail())
		}
	}
}
