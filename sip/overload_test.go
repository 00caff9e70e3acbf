package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestInboundOverloadSheds: with 3 calls in setup allowed and browser users
// that answer only when the test says so, a burst of INVITEs beyond the 3
// gets 503 with Retry-After at once, the 3 admitted all get their 200 once
// answered, and after the burst a new call succeeds again.
func TestInboundOverloadSheds(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 20 * time.Second, MaxCallsInSetup: 3, MaxQueueDelay: -1, ShedRetryAfter: 2 * time.Second},
		Config{TrustedSources: []string{"127.0.0.1"}})
	slow := make(chan *testLeg, 16)
	env.users.handle("slow", func(req gateway.DialRequest) gateway.Leg {
		l := newTestLeg("slow")
		l.call = req.Call
		slow <- l
		return l
	})
	c := dialRaw(t, env.a.Addr())
	invite := func(to string, i int) string {
		return c.rawRequest("INVITE", "sip:"+to+"@"+env.a.Addr(), []string{"Content-Type: application/sdp",
			fmt.Sprintf("!From: <sip:caller%d@127.0.0.1>;tag=f%d", i, i)}, webrtcSDP("actpass", "rawc", 30000))
	}

	var admitted []*testLeg
	for i := range 3 {
		c.send(t, invite("slow", i))
		select {
		case l := <-slow:
			admitted = append(admitted, l)
		case <-time.After(10 * time.Second):
			t.Fatalf("INVITE %d never reached the callee", i)
		}
	}
	const excess = 5
	for i := range excess {
		c.send(t, invite("slow", 3+i))
	}
	for range excess {
		res := c.final(10 * time.Second)
		if res == nil || res.StatusCode != 503 {
			t.Fatalf("INVITE beyond the limit: got %v, want 503", res)
		}
		if h := res.GetHeader("Retry-After"); h == nil || h.Value() != "2" {
			t.Errorf("503 Retry-After %v, want 2", h)
		}
	}
	if v := testutil.ToFloat64(env.gm.CallsShed.WithLabelValues("sip", gateway.SignalCallsInSetup)); v != excess {
		t.Errorf("sigbridge_calls_shed_total{sip,calls_in_setup} = %v, want %d", v, excess)
	}

	for _, l := range admitted {
		if err := l.call.Post(l, gateway.Answer{SDP: answerFor(nil)}); err != nil {
			t.Fatalf("answer: %v", err)
		}
	}
	for range admitted {
		res := c.final(10 * time.Second)
		if res == nil || res.StatusCode != 200 {
			t.Fatalf("admitted call: got %v, want 200", res)
		}
		c.ack2xx(t, res)
	}

	c.send(t, invite("answer", 99))
	if res := c.final(10 * time.Second); res == nil || res.StatusCode != 200 {
		t.Fatalf("call after the burst: got %v, want 200", res)
	} else {
		c.ack2xx(t, res)
	}
}

// ack2xx sends the ACK of a 2xx to an INVITE (a new transaction to the
// Contact, RFC 3261 §13.2.2.4), here over the same UDP socket.
func (c *rawClient) ack2xx(t *testing.T, res *sip.Response) {
	t.Helper()
	contact := res.Contact()
	if contact == nil {
		t.Fatal("2xx without Contact")
	}
	ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKack%d\r\nFrom: %s\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		contact.Address.String(), c.local(), time.Now().UnixNano(), res.From().Value(), res.To().Value(),
		res.CallID().Value(), res.CSeq().SeqNo)
	c.send(t, ack)
}

// TestSIPpShedWhileOverloaded: SIPp sends 20 INVITEs while the gateway has
// its 2 calls in setup (two callers calling a user who neither rings nor
// answers): all 20 get 503 with Retry-After. Once those calls end, 10 SIPp
// calls, one at a time, all succeed.
func TestSIPpShedWhileOverloaded(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 20 * time.Second, MaxCallsInSetup: 2, MaxQueueDelay: -1, ShedRetryAfter: 3 * time.Second,
		MaxCallsPerUser: 100},
		Config{TrustedSources: []string{"127.0.0.1"}, MaxCallsPerUser: 100, CallsPerSecond: 1000, CallsBurst: 1000})
	c := dialRaw(t, env.a.Addr())
	var pending []*testLeg
	for i := range 2 {
		c.send(t, c.rawRequest("INVITE", "sip:silent@"+env.a.Addr(), []string{"Content-Type: application/sdp",
			fmt.Sprintf("!From: <sip:caller%d@127.0.0.1>;tag=r%d", i, i)}, webrtcSDP("actpass", "rawc", 30000)))
		pending = append(pending, env.users.leg(t, "silent"))
	}

	shed := startSIPp(t, "uac_unavailable.xml", env.a.Addr(), "-s", "answer", "-m", "20", "-r", "50")
	shed.wait(t)
	msgs := shed.messageLog(t) // a 503 retransmitted before its ACK counts twice in both
	if n, ra := strings.Count(msgs, "SIP/2.0 503"), strings.Count(msgs, "Retry-After: 3"); n < 20 || ra != n {
		t.Errorf("%d 503s, %d with Retry-After: 3; want 20 or more, all with it", n, ra)
	}
	if v := testutil.ToFloat64(env.gm.CallsShed.WithLabelValues("sip", gateway.SignalCallsInSetup)); v != 20 {
		t.Errorf("sigbridge_calls_shed_total{sip,calls_in_setup} = %v, want 20", v)
	}

	for _, l := range pending {
		l.call.Hangup(gateway.ReasonShutdown)
		<-l.call.Done()
	}
	// One call at a time (-l 1): with a bound of 2, overlapping setups on a
	// loaded machine would be shed too, which is right but not this test.
	ok := startSIPp(t, "uac_call.xml", env.a.Addr(), "-s", "answer", "-m", "10", "-r", "20", "-l", "1")
	ok.wait(t)
	if v := testutil.ToFloat64(env.a.m.calls.WithLabelValues("in", "200")); v != 10 {
		t.Errorf("%v inbound calls answered after the overload, want 10", v)
	}
}

// TestLateReceiveQueueSheds: once the UDP readers see an INVITE that waited
// in the socket longer than the shedding age (here handed to the adapter's
// filter as the kernel would stamp it), a new INVITE gets 503 with
// Retry-After at once, counted under socket_delay, though no call is in
// setup; once the queue is on time again, a call succeeds.
func TestLateReceiveQueueSheds(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		MaxQueueDelay: -1, ShedRetryAfter: 4 * time.Second}, Config{TrustedSources: []string{"127.0.0.1"}})
	f := &staleFilter{max: env.a.cfg.MaxInviteAge, log: env.a.log, m: env.gm, shed: &env.a.sockShed,
		shedAge: shedAgeFor(env.a.cfg.MaxInviteAge)}
	late := []byte("INVITE sip:answer@127.0.0.1 SIP/2.0\r\n")
	c := dialRaw(t, env.a.Addr())
	invite := func(i int) string {
		return c.rawRequest("INVITE", "sip:answer@"+env.a.Addr(), []string{"Content-Type: application/sdp",
			fmt.Sprintf("!From: <sip:caller%d@127.0.0.1>;tag=l%d", i, i)}, webrtcSDP("actpass", "rawc", 30000))
	}
	// The readers keep seeing late INVITEs (every 20 ms) while ours travels.
	now := time.Now()
	if f.stale(late, now.Add(-f.shedAge-50*time.Millisecond), now) {
		t.Fatal("an INVITE younger than max_invite_age was dropped")
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				now := time.Now()
				f.stale(late, now.Add(-f.shedAge-50*time.Millisecond), now)
			}
		}
	}()
	for !env.a.sockShed.active(time.Now()) { // late for socketShedSustain: shedding starts
		time.Sleep(10 * time.Millisecond)
	}
	c.send(t, invite(1))
	res := c.final(10 * time.Second)
	close(stop)
	if res == nil || res.StatusCode != 503 {
		t.Fatalf("INVITE while the receive queue is late: got %v, want 503", res)
	}
	if h := res.GetHeader("Retry-After"); h == nil || h.Value() != "4" {
		t.Errorf("503 Retry-After %v, want 4", h)
	}
	if v := testutil.ToFloat64(env.gm.CallsShed.WithLabelValues("sip", signalSocketDelay)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 1", v)
	}
	for env.a.sockShed.active(time.Now()) {
		time.Sleep(10 * time.Millisecond)
	}
	// An INVITE on time does not shed.
	now = time.Now()
	f.stale(late, now.Add(-10*time.Millisecond), now)
	c.send(t, invite(2))
	if res := c.final(10 * time.Second); res == nil || res.StatusCode != 200 {
		t.Fatalf("INVITE once the queue is on time: got %v, want 200", res)
	} else {
		c.ack2xx(t, res)
	}
}

// TestBrowserToSIPOverloadAdmittedSucceed: browser → SIP beyond capacity,
// with a real SIPp UAS. With 3 calls in setup allowed and SIPp taking 5 s
// before it answers, 3 callers' offers are admitted and 5 more are refused
// at once (ErrOverloaded, 503, counted as shed); the 3 admitted calls all
// get answered and SIPp completes each of them (it exits 0 only when every
// call of -m succeeded). Once the overload is over, 5 calls one after the
// other all succeed again.
func TestBrowserToSIPOverloadAdmittedSucceed(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 20 * time.Second, MaxCallsInSetup: 3, MaxQueueDelay: -1, MaxCallsPerUser: 100},
		Config{Routes: []Route{loopbackRoute()}, MaxCallsPerUser: 100, CallsPerSecond: 1000, CallsBurst: 1000})
	slow := startSIPp(t, "uas_slow_answer.xml", "", "-m", "3")
	var admitted []*testLeg
	for i := range 3 {
		caller, _ := placeToSIPAs(t, env, fmt.Sprintf("caller%d", i), "sip:bob@"+slow.addr)
		admitted = append(admitted, caller)
	}
	const excess = 5
	for i := range excess {
		_, err := env.gw.Place(context.Background(), gateway.PlaceRequest{Caller: newTestLeg("x"),
			From: fmt.Sprintf("excess%d", i), Target: "sip:bob@" + slow.addr,
			Offer: mustSDP(t, webrtcSDP("actpass", "exce", 30000))})
		if !errors.Is(err, gateway.ErrOverloaded) {
			t.Fatalf("offer %d beyond the limit: %v, want ErrOverloaded", i, err)
		}
		if code, _ := gateway.Status(err); code != 503 {
			t.Errorf("offer %d beyond the limit: status %d, want 503", i, code)
		}
	}
	if v := testutil.ToFloat64(env.gm.CallsShed.WithLabelValues("test", gateway.SignalCallsInSetup)); v != excess {
		t.Errorf("sigbridge_calls_shed_total{test,calls_in_setup} = %v, want %d", v, excess)
	}
	for _, caller := range admitted {
		expectAnswer(t, caller)
	}
	for _, caller := range admitted {
		if err := caller.call.Post(caller, gateway.Hangup{}); err != nil {
			t.Fatal(err)
		}
		waitDone(t, caller.call)
	}
	slow.wait(t)
	if got := callsMetric(env, "out", "200"); got != 3 {
		t.Errorf("calls{out,200} = %v, want the 3 admitted", got)
	}

	after := startSIPp(t, "uas_answer.xml", "", "-m", "5")
	for i := range 5 {
		caller, call := placeToSIPAs(t, env, fmt.Sprintf("after%d", i), "sip:bob@"+after.addr)
		expectAnswer(t, caller)
		if err := call.Post(caller, gateway.Hangup{}); err != nil {
			t.Fatal(err)
		}
		waitDone(t, call)
	}
	after.wait(t)
}

// TestLateResponsesShedOffers: browser → SIP calls wait for SIP responses
// in the adapter's UDP receive queue, so once datagrams of any kind (here
// responses, handed to the adapter's filter as the kernel would stamp
// them) have stayed late for socketShedSustain, a new offer from another
// dialect is refused at once, counted under socket_delay for its dialect;
// once the queue is on time again, a call to SIPp succeeds.
func TestLateResponsesShedOffers(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		MaxQueueDelay: -1}, Config{Routes: []Route{loopbackRoute()}})
	f := &staleFilter{max: env.a.cfg.MaxInviteAge, log: env.a.log, m: env.gm, shed: &env.a.sockShed,
		shedAge: shedAgeFor(env.a.cfg.MaxInviteAge)}
	late := []byte("SIP/2.0 180 Ringing\r\n")
	uas := startSIPp(t, "uas_answer.xml", "")
	target := "sip:bob@" + uas.addr
	for deadline := time.Now().Add(5 * time.Second); !env.a.sockShed.active(time.Now()); {
		if time.Now().After(deadline) {
			t.Fatal("late responses did not start shedding")
		}
		now := time.Now()
		if f.stale(late, now.Add(-f.shedAge-50*time.Millisecond), now) {
			t.Fatal("a response was dropped as a stale INVITE")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := env.gw.Place(context.Background(), gateway.PlaceRequest{Caller: newTestLeg("alice"), From: "alice",
		Target: target, Offer: mustSDP(t, webrtcSDP("actpass", "alic", 30000))})
	if !errors.Is(err, gateway.ErrOverloaded) {
		t.Fatalf("offer while the SIP receive queue is late: %v, want ErrOverloaded", err)
	}
	if v := testutil.ToFloat64(env.gm.CallsShed.WithLabelValues("test", signalSocketDelay)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{test,socket_delay} = %v, want 1", v)
	}
	now := time.Now()
	f.stale(late, now.Add(-10*time.Millisecond), now) // on time again
	for env.a.sockShed.active(time.Now()) {
		time.Sleep(10 * time.Millisecond)
	}
	caller, call := placeToSIP(t, env, target)
	expectAnswer(t, caller)
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, call)
	uas.wait(t)
}

// TestSIPToBrowserOverloadAdmittedSucceed: SIP → browser beyond capacity,
// with a real SIPp UAC. With 3 calls in setup allowed and callees that
// answer only when the test says so, SIPp places 20 calls at 100/s: 3 are
// admitted (not ringing: in setup) and the 17 others get 503 with Retry-After before
// any admitted call is answered, i.e. at once. Then the 3 are answered;
// SIPp ACKs, holds and hangs up each, every admitted call ends on the
// browser leg too, and SIPp exits 0 (every call took its scenario's path:
// 200, ACK, BYE answered 200; or 503 and its ACK). From SIPp's message log:
// exactly the 17 excess Call-IDs got a 503 (each 503 with Retry-After) and
// exactly the 3 admitted got their 200 (none of them a 503 as well: the
// caller would have ended it on the 503 and never ACKed the 200). Once the
// overload is over, 5 SIPp calls one after the other all succeed.
func TestSIPToBrowserOverloadAdmittedSucceed(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 30 * time.Second, MaxCallsInSetup: 3, MaxQueueDelay: -1, ShedRetryAfter: 3 * time.Second,
		MaxCallsPerUser: 100},
		Config{TrustedSources: []string{"127.0.0.1"}, MaxCallsPerUser: 100, CallsPerSecond: 1000, CallsBurst: 1000})
	const calls, admittedN = 20, 3
	uac := startSIPp(t, "uac_call_or_503.xml", env.a.Addr(), "-s", "silent", "-m", strconv.Itoa(calls), "-r", "100")
	var admitted []*testLeg
	for range admittedN {
		admitted = append(admitted, env.users.leg(t, "silent"))
	}
	shedMetric := env.gm.CallsShed.WithLabelValues("sip", gateway.SignalCallsInSetup)
	for deadline := time.Now().Add(30 * time.Second); testutil.ToFloat64(shedMetric) < calls-admittedN; {
		if time.Now().After(deadline) {
			t.Fatalf("%v of the %d excess INVITEs shed while 3 calls are in setup\n%s", testutil.ToFloat64(shedMetric),
				calls-admittedN, uac.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if testutil.ToFloat64(env.a.m.calls.WithLabelValues("in", "200")) != 0 {
		t.Fatal("a call was answered before the test answered the admitted ones")
	}
	for _, l := range admitted {
		if err := l.call.Post(l, gateway.Answer{SDP: answerFor(nil)}); err != nil {
			t.Fatalf("answer: %v", err)
		}
	}
	for _, l := range admitted {
		waitDone(t, l.call) // SIPp's BYE ended the browser leg too
	}
	uac.wait(t)
	if v := testutil.ToFloat64(shedMetric); v != calls-admittedN {
		t.Errorf("sigbridge_calls_shed_total{sip,calls_in_setup} = %v, want %d", v, calls-admittedN)
	}
	got := sippFinals(uac.messageLog(t))
	var shed, answered int
	for id, f := range got {
		switch {
		case f.codes[503] && f.codes[200]:
			t.Errorf("call %s got both 503 and 200 to its INVITE", id)
		case f.codes[503]:
			shed++
			if !f.retryAfter {
				t.Errorf("call %s: 503 without Retry-After: 3", id)
			}
		case f.codes[200]:
			answered++
			if !f.byeOK {
				t.Errorf("admitted call %s: no 200 to SIPp's BYE", id)
			}
		default:
			t.Errorf("call %s: no final response to its INVITE (%v)", id, f.codes)
		}
	}
	if shed != calls-admittedN || answered != admittedN {
		t.Errorf("SIPp saw %d calls shed and %d answered, want %d and %d", shed, answered, calls-admittedN, admittedN)
	}
	if v := callsMetric(env, "in", "200"); v != admittedN {
		t.Errorf("calls{in,200} = %v, want the %d admitted", v, admittedN)
	}

	after := startSIPp(t, "uac_call.xml", env.a.Addr(), "-s", "answer", "-m", "5", "-l", "1")
	after.wait(t)
	if v := callsMetric(env, "in", "200"); v != admittedN+5 {
		t.Errorf("calls{in,200} = %v after the overload, want %d", v, admittedN+5)
	}
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(env.gm.ActiveCalls) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%v calls still active after SIPp ended them all", testutil.ToFloat64(env.gm.ActiveCalls))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sippFinal is what SIPp received for one Call-ID: the status codes of
// the responses to its INVITE, whether a 503 carried Retry-After: 3, and
// whether its BYE got a 200.
type sippFinal struct {
	codes      map[int]bool
	retryAfter bool
	byeOK      bool
}

// sippFinals reads the responses SIPp received from its -trace_msg log,
// by Call-ID.
func sippFinals(log string) map[string]*sippFinal {
	out := map[string]*sippFinal{}
	log = strings.ReplaceAll(log, "\r\n", "\n") // SIPp logs messages as sent, between its own \n lines
	for _, block := range strings.Split(log, "message received")[1:] {
		_, msg, _ := strings.Cut(block, "\n\n")
		msg, _, _ = strings.Cut(msg, "\n-----")
		head, _, _ := strings.Cut(msg, "\n\n") // the headers are enough
		res, err := sip.ParseMessage([]byte(strings.ReplaceAll(strings.Replace(head, "Content-Length:", "X-Length:", 1), "\n", "\r\n") + "\r\nContent-Length: 0\r\n\r\n"))
		r, ok := res.(*sip.Response)
		if err != nil || !ok || r.CallID() == nil || r.CSeq() == nil {
			continue
		}
		f := out[r.CallID().Value()]
		if f == nil {
			f = &sippFinal{codes: map[int]bool{}}
			out[r.CallID().Value()] = f
		}
		switch r.CSeq().MethodName {
		case sip.INVITE:
			f.codes[r.StatusCode] = true
			if h := r.GetHeader("Retry-After"); r.StatusCode == 503 && h != nil && h.Value() == "3" {
				f.retryAfter = true
			}
		case sip.BYE:
			f.byeOK = f.byeOK || r.StatusCode == 200
		}
	}
	return out
}
