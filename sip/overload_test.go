package sip

import (
	"fmt"
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
// its 2 calls in setup (two callers ringing a user who never answers): all
// 20 get 503 with Retry-After. Once the ringing calls end, 10 SIPp calls,
// one at a time, all succeed.
func TestSIPpShedWhileOverloaded(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 20 * time.Second, MaxCallsInSetup: 2, MaxQueueDelay: -1, ShedRetryAfter: 3 * time.Second,
		MaxCallsPerUser: 100},
		Config{TrustedSources: []string{"127.0.0.1"}, MaxCallsPerUser: 100, CallsPerSecond: 1000, CallsBurst: 1000})
	c := dialRaw(t, env.a.Addr())
	var ringing []*testLeg
	for i := range 2 {
		c.send(t, c.rawRequest("INVITE", "sip:ring@"+env.a.Addr(), []string{"Content-Type: application/sdp",
			fmt.Sprintf("!From: <sip:ringer%d@127.0.0.1>;tag=r%d", i, i)}, webrtcSDP("actpass", "rawc", 30000)))
		ringing = append(ringing, env.users.leg(t, "ring"))
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

	for _, l := range ringing {
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
