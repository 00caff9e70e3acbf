package sip

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// Live dialogs of each kind per drain round.
const (
	drainAnswered = 50 // each direction
	drainRinging  = 10 // each direction
	drainLateACK  = 10 // inbound, ACK still on its way when the drain starts
	drainRounds   = 3
)

// TestDrainEveryDialogEnds: with 50 answered dialogs in each direction,
// ringing ones both ways and inbound ones whose ACK is still in flight, a
// drain (gateway.Drain, then Close, as sigbridge serve does on SIGTERM)
// leaves no SIP peer behind: every SIPp call gets its BYE (answered,
// including the late-ACK ones once their ACK arrives), its 503 (inbound
// ringing) or its CANCEL (outbound ringing) before Close returns. Repeated
// drainRounds times; SIPp counts what it received.
func TestDrainEveryDialogEnds(t *testing.T) {
	for round := 1; round <= drainRounds; round++ {
		t.Run("round"+strconv.Itoa(round), drainRound)
	}
}

func drainRound(t *testing.T) {
	env := newEnvGW(t, gateway.Config{GatherQuiet: 50 * time.Millisecond, GatherMax: 300 * time.Millisecond,
		RingTimeout: 60 * time.Second, MaxCallsPerUser: 1000}, Config{TrustedSources: []string{"127.0.0.1"}, Routes: []Route{loopbackRoute()},
		MaxCallsPerUser: 1000, CallsPerSecond: 1000, CallsBurst: 1000, DialogProbeInterval: -1})
	uasAnswer := startSIPpN(t, "uas_drain.xml", "", drainAnswered)
	uasRing := startSIPpN(t, "uas_drain_ring.xml", "", drainRinging)
	// One call at a time: a burst of 60 INVITEs on two loaded cores makes
	// sipgo retransmit some after SIPp has answered.
	for i := 0; i < drainAnswered; i++ {
		c, _ := placeToSIPAs(t, env, "alice"+strconv.Itoa(i), "sip:bob@"+uasAnswer.addr)
		expectAnswer(t, c)
	}
	for i := 0; i < drainRinging; i++ {
		c, _ := placeToSIPAs(t, env, "carol"+strconv.Itoa(i), "sip:ring@"+uasRing.addr)
		c.expect(t, "ringing")
	}
	// Browser users that answer (or ring) any number of calls.
	for name, behaviour := range map[string]string{"drainans": "answer-drain", "drainring": "ring-drain"} {
		env.users.handle(name, func(req gateway.DialRequest) gateway.Leg {
			l := newTestLeg(behaviour)
			l.call = req.Call
			go env.users.behave(l, req.From)
			return l
		})
	}
	uacAnswer := startSIPpN(t, "uac_drain.xml", env.a.Addr(), drainAnswered, "-s", "drainans")
	uacRing := startSIPpN(t, "uac_drain_ring.xml", env.a.Addr(), drainRinging, "-s", "drainring")
	waitCalls(t, env, 2*drainAnswered+2*drainRinging)
	uacLate := startSIPpN(t, "uac_drain_lateack.xml", env.a.Addr(), drainLateACK, "-s", "drainans")
	waitCalls(t, env, 2*drainAnswered+2*drainRinging+drainLateACK)
	waitReceived(t, uacLate, "SIP/2.0 200", drainLateACK) // the late 200s are out; their ACKs wait 1.5 s

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	env.gw.Drain(ctx)
	if err := env.a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := env.a.LiveDialogs(); n != 0 {
		t.Errorf("%d dialogs still live after Close", n)
	}
	// Close has returned: in sigbridge the process exits now. What the
	// SIPp peers got by then is all they will ever get.
	for _, c := range []struct {
		name   string
		p      *sippProc
		method string
		want   int
	}{
		{"outbound answered", uasAnswer, "BYE", drainAnswered}, {"outbound ringing", uasRing, "CANCEL", drainRinging},
		{"inbound answered", uacAnswer, "BYE", drainAnswered}, {"inbound, ACK in flight", uacLate, "BYE", drainLateACK},
		{"inbound ringing", uacRing, "SIP/2.0 503", drainRinging},
	} {
		if got := c.p.received(t, c.method); got != c.want {
			t.Errorf("%s: SIPp received %d %s, want %d", c.name, got, c.method, c.want)
		}
	}
	for _, p := range []*sippProc{uasAnswer, uasRing, uacAnswer, uacRing, uacLate} {
		p.wait(t)
	}
}

// waitCalls waits until the gateway holds n calls.
func waitCalls(t *testing.T, env *testEnv, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for env.gw.ActiveCalls() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls up, want %d", env.gw.ActiveCalls(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReceived waits until SIPp has received start (see received) in n
// calls. (A fixed 200 ms for the late-ACK calls' 200s was once too short
// on a loaded box: the drain found some still unanswered.)
func waitReceived(t *testing.T, p *sippProc, start string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.received(t, start) < n {
		if time.Now().After(deadline) {
			t.Fatalf("SIPp received %s in %d calls, want %d", start, p.received(t, start), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSIPpN runs scenario for n calls at once (UAC: placed at 200/s).
func startSIPpN(t *testing.T, scenario, remote string, n int, extra ...string) *sippProc {
	t.Helper()
	args := append([]string{"-m", strconv.Itoa(n), "-l", strconv.Itoa(n), "-r", "200", "-timeout", "60s"}, extra...)
	return startSIPp(t, scenario, remote, args...)
}

// received counts the distinct Call-IDs of the messages SIPp received
// whose first line starts with start ("BYE", "SIP/2.0 503").
func (p *sippProc) received(t *testing.T, start string) int {
	t.Helper()
	re := regexp.MustCompile(`(?s)message received \[\d+\] bytes :\s*\n\s*\n` + regexp.QuoteMeta(start) +
		`[^\n]*\n.*?Call-ID: ([^\r\n]+)`)
	ids := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(p.messageLog(t), -1) {
		ids[m[1]] = true
	}
	return len(ids)
}
