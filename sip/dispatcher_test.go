package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/kamailiotest"
)

// legsOf counts the callee legs published for name so far.
func legsOf(u *testUsers, name string) int { return len(u.published(name)) }

// TestKamailioDispatcher runs the cluster's Kamailio dispatcher config
// (internal/kamailiotest/dispatcher.cfg, shown in docs/CLUSTER.md) in front
// of two SIP adapters, as two nodes of a cluster would be: SIPp calls
// through Kamailio, the INVITEs are spread over both nodes in turn, and
// every ACK and BYE (sent by SIPp along the Record-Route to Kamailio)
// reaches the node that holds the dialog: a wrong node would answer the
// BYE 481 and SIPp would fail. With one node gone, Kamailio fails its
// INVITEs over to the other.
func TestKamailioDispatcher(t *testing.T) {
	cfg := Config{TrustedSources: []string{"127.0.0.1"}}
	a, b := newEnv(t, cfg), newEnv(t, cfg)
	kam := kamailiotest.Start(t, kamailiotest.Options{Config: kamailiotest.DispatcherConfig,
		Nodes: []string{a.a.Addr(), b.a.Addr()}, Defines: []string{"DS_PING_INTERVAL=1", "FR_TIMER=1000"}})

	uac := startSIPpN(t, "uac_call.xml", kam.Addr, 4, "-s", "answer")
	uac.wait(t)
	if na, nb := legsOf(a.users, "answer"), legsOf(b.users, "answer"); na != 2 || nb != 2 {
		t.Errorf("calls per node: A %d, B %d; want 2 and 2 (round robin)", na, nb)
	}
	msgs := uac.messageLog(t)
	if !strings.Contains(msgs, "Record-Route: <sip:"+kam.Addr) {
		t.Errorf("the 200 OK carries no Record-Route of Kamailio:\n%s", tail(msgs, 3000))
	}
	for _, node := range []string{a.a.Addr(), b.a.Addr()} {
		if !strings.Contains(msgs, "BYE sip:sigbridge@"+node) && !strings.Contains(msgs, "BYE sip:"+node) {
			t.Errorf("no BYE addressed to node %s's Contact:\n%s", node, tail(msgs, 3000))
		}
	}
	for _, e := range []*testEnv{a, b} {
		waitMetric(t, e, "in", "200")
	}

	// The nodes hang up: their BYEs leave over the flow to Kamailio,
	// which loose-routes them to SIPp.
	for _, e := range []*testEnv{a, b} {
		for range 2 {
			<-e.users.published("answer")
		}
	}
	uac = startSIPpN(t, "uac_drain.xml", kam.Addr, 2, "-s", "answer")
	for _, e := range []*testEnv{a, b} {
		l := e.users.leg(t, "answer")
		time.Sleep(500 * time.Millisecond) // the user answers at once; the ACK arrives
		_ = l.call.Post(l, gateway.Hangup{})
	}
	uac.wait(t)
	if n := strings.Count(uac.messageLog(t), "Via: SIP/2.0/UDP "+kam.Addr+";branch="); n < 2 {
		t.Errorf("%d messages to SIPp came through Kamailio; want both nodes' BYEs", n)
	}

	_ = b.a.Close() // node B is gone: its INVITEs time out and go to A
	uac = startSIPpN(t, "uac_call.xml", kam.Addr, 2, "-s", "answer")
	uac.wait(t)
	deadline := time.Now().Add(5 * time.Second)
	for legsOf(a.users, "answer") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if na := legsOf(a.users, "answer"); na != 2 {
		t.Errorf("with node B gone, node A got %d of 2 calls", na)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
