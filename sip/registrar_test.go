package sip

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

// contactsOf returns the Contact URIs of a REGISTER response with their
// expires parameter.
func contactsOf(res *sip.Response) map[string]string {
	out := map[string]string{}
	for _, h := range res.GetHeaders("Contact") {
		c := h.(*sip.ContactHeader)
		exp, _ := c.Params.Get("expires")
		out[c.Address.String()] = exp
	}
	return out
}

func wantStatus(t *testing.T, what string, res *sip.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("%s: %s, want %d", what, res.StartLine(), code)
	}
}

// TestRegistrar: digest, the AOR check, expiry bounds, refresh, several
// contacts, unregistration of one contact and of all of them.
func TestRegistrar(t *testing.T) {
	env := registrarEnv(t)
	ws := dialUA(t, env, "WS", "bob")
	tcp := dialUA(t, env, "TCP", "bob")
	host := env.a.cfg.Host

	wantStatus(t, "no credentials", registerUA(t, env, ws, "", 300), 401)
	wantStatus(t, "wrong password", registerUA(t, env, ws, "nope", 300), 401)
	wantStatus(t, "carol's password for bob", registerUA(t, env, ws, carolPassword, 300), 401)
	carol := dialUA(t, env, "WS", "carol")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := carol.Request(ctx, "REGISTER", "sip:"+host, []string{"From: <sip:bob@" + host + ">;tag=x1",
		"To: <sip:bob@" + host + ">", "Contact: <" + carol.Contact() + ">", "Expires: 300"}, "", carolPassword)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "carol registering bob's AOR", res, 403)

	res = registerUA(t, env, ws, bobPassword, 10)
	wantStatus(t, "too brief", res, 423)
	if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
		t.Errorf("Min-Expires %v, want 60", h)
	}
	res = registerUA(t, env, ws, bobPassword, 100000)
	wantStatus(t, "too long", res, 200)
	if got := contactsOf(res)[ws.Contact()]; got != "3600" {
		t.Errorf("granted expires %q, want 3600 (the maximum)", got)
	}
	res = registerUA(t, env, ws, bobPassword, -1)
	wantStatus(t, "no Expires", res, 200)
	if got := contactsOf(res)[ws.Contact()]; got != "600" {
		t.Errorf("default expires %q, want 600", got)
	}
	res = registerUA(t, env, ws, bobPassword, 120)
	wantStatus(t, "refresh", res, 200)
	if got := contactsOf(res); len(got) != 1 || got[ws.Contact()] != "120" {
		t.Errorf("after refresh: %v", got)
	}
	res = registerUA(t, env, tcp, bobPassword, 300)
	wantStatus(t, "second contact", res, 200)
	if got := contactsOf(res); len(got) != 2 || got[ws.Contact()] == "" || got[tcp.Contact()] == "" {
		t.Errorf("two contacts: %v", got)
	}
	waitBindings(t, env, 2)

	res = registerUA(t, env, ws, bobPassword, 0)
	wantStatus(t, "unregister one", res, 200)
	if got := contactsOf(res); len(got) != 1 || got[tcp.Contact()] == "" {
		t.Errorf("after Expires: 0: %v", got)
	}
	waitBindings(t, env, 1)

	res, err = tcp.Request(ctx, "REGISTER", "sip:"+host, []string{"From: <sip:bob@" + host + ">;tag=x2",
		"To: <sip:bob@" + host + ">", "Contact: *", "Expires: 30"}, "", bobPassword)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "* with Expires 30", res, 400)
	res, err = tcp.Request(ctx, "REGISTER", "sip:"+host, []string{"From: <sip:bob@" + host + ">;tag=x3",
		"To: <sip:bob@" + host + ">", "Contact: *", "Expires: 0"}, "", bobPassword)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "* with Expires 0", res, 200)
	if got := contactsOf(res); len(got) != 0 {
		t.Errorf("after *: %v", got)
	}
	waitBindings(t, env, 0)
}

// TestRegistrarExpiry: a binding that is not refreshed expires.
func TestRegistrarExpiry(t *testing.T) {
	env := newEnv(t, Config{WSListen: "127.0.0.1:0", RegistrarMinExpires: time.Second,
		InboundUsers: []InboundUser{{Username: "bob", Password: bobPassword}}})
	ua := dialUA(t, env, "WS", "bob")
	wantStatus(t, "REGISTER", registerUA(t, env, ua, bobPassword, 1), 200)
	waitBindings(t, env, 1)
	waitBindings(t, env, 0)
	_, err := env.a.Dial(context.Background(), gateway.DialRequest{From: "alice", Target: mustTarget(t, "sip:bob@"+env.a.cfg.Host)})
	if !errors.Is(err, gateway.ErrOffline) {
		t.Errorf("dial after expiry: %v, want offline", err)
	}
}

func mustTarget(t *testing.T, s string) gateway.Target {
	t.Helper()
	tg, err := gateway.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestForkFirstAnswerWins: bob is registered twice (WS and TCP); a call to
// him rings both, the one that answers wins and the other gets CANCEL.
func TestForkFirstAnswerWins(t *testing.T) {
	env := registrarEnv(t)
	ringer := dialUA(t, env, "WS", "bob")
	answerer := dialUA(t, env, "TCP", "bob")
	rang := make(chan struct{}) // the answer waits until the caller heard the ringer ring (was: 300 ms)
	answerer.Answer = func(*sip.Request) (int, string) {
		select {
		case <-rang:
		case <-time.After(10 * time.Second):
		}
		return 200, webrtcSDP("active", "uaua", 40010)
	}
	mustRegister(t, env, ringer)
	mustRegister(t, env, answerer)
	caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
	expectInDialog(t, ringer, "INVITE")
	expectInDialog(t, answerer, "INVITE")
	caller.expect(t, "ringing")
	close(rang)
	expectAnswer(t, caller)
	cancel := expectInDialog(t, ringer, "CANCEL")
	if h := cancel.GetHeader("Reason"); h == nil || !strings.Contains(h.Value(), "cause=200") {
		t.Errorf("CANCEL Reason %v, want SIP;cause=200 (RFC 3326: completed elsewhere)", h)
	}
	expectInDialog(t, answerer, "ACK")
	_ = call.Post(caller, gateway.Hangup{})
	expectInDialog(t, answerer, "BYE")
	waitDone(t, call)
	if _, err := ringer.WaitRequest("BYE", 300*time.Millisecond); err == nil {
		t.Error("the cancelled branch got a BYE")
	}
	waitFlowsForgotten(t, env)
}

// TestForkLate2xx: both UAs answer at once; the first 2xx wins and the
// other answered dialog is ended with BYE while the call goes on. Each UA
// answers only once both have the INVITE: a UA that answered at once could
// win before the other branch even sent its INVITE (no late 2xx then).
func TestForkLate2xx(t *testing.T) {
	env := registrarEnv(t)
	uas := []*siptest.StreamUA{dialUA(t, env, "WS", "bob"), dialUA(t, env, "TLS", "bob")}
	both, arrived := make(chan struct{}), atomic.Int32{}
	for _, ua := range uas {
		ua.Answer = func(*sip.Request) (int, string) {
			if arrived.Add(1) == int32(len(uas)) {
				close(both)
			}
			select {
			case <-both:
			case <-time.After(5 * time.Second):
			}
			return 200, webrtcSDP("active", "uaua", 40010)
		}
		mustRegister(t, env, ua)
	}
	caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
	expectAnswer(t, caller)
	loser, winner := byeOrNot(t, uas)
	_ = call.Post(caller, gateway.Hangup{})
	expectInDialog(t, winner, "BYE")
	waitDone(t, call)
	if _, err := loser.WaitRequest("BYE", 300*time.Millisecond); err == nil {
		t.Error("the losing branch got a second BYE")
	}
}

// byeOrNot waits for the one UA that gets a BYE (the late 2xx) while the
// call is up, and returns it and the other.
func byeOrNot(t *testing.T, uas []*siptest.StreamUA) (loser, winner *siptest.StreamUA) {
	t.Helper()
	for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); {
		for i, ua := range uas {
			if _, err := ua.WaitRequest("BYE", 50*time.Millisecond); err == nil {
				if _, err := uas[1-i].WaitRequest("BYE", 500*time.Millisecond); err == nil {
					t.Fatal("both branches got a BYE while the call is up")
				}
				return ua, uas[1-i]
			}
		}
	}
	t.Fatal("no branch got a BYE for its late 2xx")
	return nil, nil
}

// TestForkAllFail: every branch refuses; the caller gets the best failure.
func TestForkAllFail(t *testing.T) {
	env := registrarEnv(t)
	busy := dialUA(t, env, "WS", "bob")
	busy.Answer = func(*sip.Request) (int, string) { return 486, "" }
	gone := dialUA(t, env, "TCP", "bob")
	gone.Answer = func(*sip.Request) (int, string) { return 480, "" }
	mustRegister(t, env, busy)
	mustRegister(t, env, gone)
	caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
	if h := caller.expect(t, "hangup").(gateway.Hangup); h.Reason.Code != 486 {
		t.Errorf("hangup %+v, want 486", h.Reason)
	}
	waitDone(t, call)
}

// TestForkBranchFlowClosed: one of bob's UAs rings and its connection
// closes; that binding is dropped and its branch fails, but the call goes
// on and the other branch answers it.
func TestForkBranchFlowClosed(t *testing.T) {
	env := registrarEnv(t)
	ringer := dialUA(t, env, "WS", "bob")
	answerer := dialUA(t, env, "TCP", "bob")
	goAhead := make(chan struct{})
	answerer.Answer = func(*sip.Request) (int, string) {
		select {
		case <-goAhead:
		case <-time.After(10 * time.Second):
		}
		return 200, webrtcSDP("active", "uaua", 40010)
	}
	mustRegister(t, env, ringer)
	mustRegister(t, env, answerer)
	caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
	expectInDialog(t, ringer, "INVITE")
	caller.expect(t, "ringing")
	_ = ringer.Close()
	waitBindings(t, env, 1)
	close(goAhead)
	expectAnswer(t, caller)
	expectInDialog(t, answerer, "ACK")
	_ = call.Post(caller, gateway.Hangup{})
	expectInDialog(t, answerer, "BYE")
	waitDone(t, call)
	waitFlowsForgotten(t, env)
}

// TestForkCallSlot: a forked call takes one of its caller's SIP call
// slots, whatever the number of branches, keeps it while a branch is left
// (one refused at once) and gives it back once every branch is over.
func TestForkCallSlot(t *testing.T) {
	cfg := registrarConfig(t)
	cfg.MaxCallsPerUser = 1
	env := newEnv(t, cfg)
	busy := dialUA(t, env, "WS", "bob")
	busy.Answer = func(*sip.Request) (int, string) { return 486, "" }
	mustRegister(t, env, busy)
	for _, tr := range []string{"TCP", "TLS"} {
		mustRegister(t, env, dialUA(t, env, tr, "bob")) // they ring, never answer
	}
	caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
	caller.expect(t, "ringing")
	for deadline := time.Now().Add(5 * time.Second); env.a.LiveDialogs() != 2; { // the busy branch is over
		if time.Now().After(deadline) {
			t.Fatalf("%d SIP legs live, want the 2 ringing branches", env.a.LiveDialogs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := activeCalls(env, "out:alice"); n != 1 {
		t.Errorf("alice holds %d call slots for one forked call with 2 branches ringing, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := env.gw.Place(ctx, gateway.PlaceRequest{Caller: newTestLeg("alice"), From: "alice",
		Target: "sip:bob@" + env.a.cfg.Host, Offer: mustSDP(t, webrtcSDP("actpass", "alic", 30002))})
	if code, _ := gateway.Status(err); code != 503 {
		t.Errorf("second call while the fork rings: %v (%d), want 503", err, code)
	}
	_ = call.Post(caller, gateway.Hangup{})
	waitDone(t, call)
	for deadline := time.Now().Add(5 * time.Second); activeCalls(env, "out:alice") != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("alice still holds %d call slots after the fork ended", activeCalls(env, "out:alice"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// activeCalls is the number of call slots user holds.
func activeCalls(env *testEnv, user string) int {
	env.a.limits.mu.Lock()
	defer env.a.limits.mu.Unlock()
	if u, ok := env.a.limits.users[user]; ok {
		return u.active
	}
	return 0
}

// TestCallUnregisteredUser: an account without bindings is offline (480);
// a name that is no account of this gateway stays refused (403).
func TestCallUnregisteredUser(t *testing.T) {
	env := registrarEnv(t)
	for target, code := range map[string]int{"sip:carol@" + env.a.cfg.Host: 480, "sip:nobody@" + env.a.cfg.Host: 403} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := env.gw.Place(ctx, gateway.PlaceRequest{Caller: newTestLeg("alice"), From: "alice", Target: target,
			Offer: mustSDP(t, webrtcSDP("actpass", "alic", 30000))})
		cancel()
		if got, _ := gateway.Status(err); got != code {
			t.Errorf("%s: %v (%d), want %d", target, err, got, code)
		}
	}
	if err := env.a.CheckEgress("alice", mustTarget(t, "sip:carol@"+env.a.cfg.Host)); err != nil {
		t.Errorf("CheckEgress of a registrar user: %v", err)
	}
}

// TestRegistrarRate: a flood of REGISTERs from one address gets 503 once
// its burst is spent, before any digest work.
func TestRegistrarRate(t *testing.T) {
	env := newEnv(t, Config{InboundUsers: []InboundUser{{Username: "bob", Password: bobPassword}}})
	c := dialRaw(t, env.a.Addr())
	codes := map[int]int{}
	for i := 0; i < registerBurst+60; i++ {
		c.send(t, c.rawRequest("REGISTER", "sip:"+env.a.cfg.Host, []string{"!To: <sip:bob@" + env.a.cfg.Host + ">"}, ""))
		if res := c.final(2 * time.Second); res != nil {
			codes[res.StatusCode]++
		}
	}
	if codes[401] < registerBurst || codes[503] == 0 {
		t.Errorf("answers %v, want at least %d challenges, then 503s", codes, registerBurst)
	}
}

// FuzzRegisterContacts feeds authenticated REGISTERs (the digest is taken
// as passed) through the contact and lifetime parsing: nothing panics and
// the 200's Contact list never carries CR or LF.
func FuzzRegisterContacts(f *testing.F) {
	reg := "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WSS h.invalid;branch=z9hG4bK1\r\nFrom: <sip:bob@127.0.0.1>;tag=1\r\n" +
		"To: <sip:bob@127.0.0.1>\r\nCall-ID: r1\r\nCSeq: 2 REGISTER\r\nMax-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n"
	for _, extra := range []string{
		"Contact: <sip:x@y.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:1>\";expires=600\r\n",
		"Contact: <sip:a@b>;expires=60, <sip:c@d>\r\nExpires: 120\r\n",
		"Contact: *\r\nExpires: 0\r\n",
		"Contact: <sip:a@b>;expires=-1\r\n",
	} {
		f.Add([]byte(strings.Replace(reg, "%s", extra, 1)))
	}
	a := fuzzAdapter(f)
	parser := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.Method != sip.REGISTER {
			return
		}
		req.SetTransport("WS")
		req.SetSource("192.0.2.9:40000")
		if code, _ := validateRequest(req); code != 0 {
			return
		}
		_ = a.register(req, "bob")
		for _, h := range a.bindingHeaders("bob") {
			if strings.ContainsAny(h.Value(), "\r\n") {
				t.Fatalf("Contact %q", h.Value())
			}
		}
		a.reg.removeAll("bob")
	})
}
