package interop

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
	"github.com/sigbridge/sigbridge/internal/kamailiotest"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// testCluster is three sigbridge nodes (subprocesses) on a real
// nats-server, one Prosody whose XEP-0114 component any node may hold,
// and Kamailio's dispatcher (the cluster config of sip/README.md) in
// front of their SIP sides.
type testCluster struct {
	nodes []*Local
	kam   *kamailiotest.Kamailio
	dep   Deployment
}

func startCluster(t *testing.T, o LocalOptions) *testCluster {
	t.Helper()
	_, nodes := startNodes(t, o, 90*time.Second)
	var addrs []string
	for _, l := range nodes {
		addrs = append(addrs, l.SIPAddr())
	}
	kam := kamailiotest.Start(t, kamailiotest.Options{Config: kamailiotest.DispatcherConfig, Nodes: addrs,
		Defines: []string{"DS_PING_INTERVAL=1", "FR_TIMER=1000"}})
	c := &testCluster{nodes: nodes, kam: kam, dep: ClusterDeployment(nodes, kam.URI())}
	c.dep.SIPp = needTool(t, "sipp", "sip-tester")
	return c
}

// leader waits until one live node holds the XMPP component and returns
// its index (other than not, when not >= 0).
func (c *testCluster) leader(t *testing.T, within time.Duration, not int) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for i, l := range c.nodes {
			select {
			case <-l.Exited():
				continue
			default:
			}
			select {
			case <-l.XMPPUp():
				if i != not {
					return i
				}
			default:
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no node held the XMPP component within %v", within)
	return -1
}

// onNode is the deployment with every browser party on node i.
func (c *testCluster) onNode(i int) Deployment {
	dep := c.dep
	dep.WSNodes, dep.WS = nil, c.nodes[i].WS
	return dep
}

// dispatched counts Kamailio's INVITEs per node address.
func (c *testCluster) dispatched() map[string]int {
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`dispatching INVITE \S+ to sip:(\S+)`).FindAllStringSubmatch(c.kam.Log(), -1) {
		out[m[1]]++
	}
	return out
}

// TestClusterSIPAndJingle: three nodes on one NATS. SIP calls sent to
// Kamailio's dispatcher go to each node in turn and reach a browser user
// on node 1 (so two of the three cross nodes), with media both ways.
// Jingle calls through the component's node reach a browser user on
// another node, and a browser user there reaches the Jingle user. Then
// the component's node is killed (SIGKILL): the component moves to a
// surviving node within seconds, and Jingle calls work again, with the
// browser user on the third node.
func TestClusterSIPAndJingle(t *testing.T) {
	c := startCluster(t, LocalOptions{})

	sipScs := pick(t, "sip-to-browser/answered-audio")
	for range 3 {
		runMatrix(t, c.onNode(0), sipScs, time.Minute)
	}
	per := c.dispatched()
	t.Logf("Kamailio dispatched INVITEs: %v", per)
	for i, l := range c.nodes {
		if per[l.SIPAddr()] == 0 {
			t.Errorf("node %d (%s) got no INVITE from the dispatcher", i+1, l.SIPAddr())
		}
	}

	lead := c.leader(t, 15*time.Second, -1)
	other := (lead + 1) % 3
	t.Logf("node %d holds the XMPP component; browser users on node %d", lead+1, other+1)
	jingle := pick(t, "jingle-to-browser/answered-audio", "browser-to-jingle/answered-audio", "sip-to-jingle/answered-audio")
	rs := runMatrix(t, c.onNode(other), jingle, 2*time.Minute)
	for _, r := range rs {
		wantStatus(t, rs, r.Scenario, Pass)
	}

	start := time.Now()
	c.nodes[lead].Kill()
	next := c.leader(t, 15*time.Second, lead)
	took := time.Since(start)
	t.Logf("node %d killed; node %d holds the component %v later", lead+1, next+1, took.Round(10*time.Millisecond))
	third := 3 - lead - next
	rs = runMatrix(t, c.onNode(third), jingle, 2*time.Minute)
	for _, r := range rs {
		wantStatus(t, rs, r.Scenario, Pass)
	}
}

// TestClusterMatrix runs the whole interop matrix, third-party clients,
// DTMF and plain RTP (each node anchoring through its own rtpengine)
// included, against the three-node cluster: each scenario's browser
// parties on two different nodes, SIP callers through Kamailio's
// dispatcher, JsSIP and baresip registered at node 1 (a browser user on
// another node reaches them through the registry), Jingle through
// whichever node holds the component. Chromium, JsSIP and baresip need a
// loopback-only network namespace with 10.99.0.1 on lo.
func TestClusterMatrix(t *testing.T) {
	npmCI(t)
	if inLoopbackNetnsFor(t, 15*time.Minute) {
		return
	}
	c := startCluster(t, LocalOptions{Rtpengine: needTool(t, "rtpengine", "rtpengine-daemon")})
	c.dep.Chromium = chromiumPath(t)
	c.dep.Baresip = needTool(t, "baresip", "baresip-core")
	c.dep.Clients = buildClients(t)
	scs := Matrix()
	if re := os.Getenv("INTEROP_CLUSTER"); re != "" {
		var err error
		if scs, err = Select(scs, re); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	rs := runMatrix(t, c.dep, scs, 15*time.Minute)
	var sb strings.Builder
	if err := WriteText(&sb, c.dep.Name, rs); err != nil {
		t.Fatal(err)
	}
	n := Count(rs)
	t.Logf("%d scenarios in %v: %d passed, %d failed, %d unsupported, %d known\n%s", len(rs),
		time.Since(start).Round(time.Second), n.Passed, n.Failed, n.Unsupported, n.Known, sb.String())
	t.Logf("Kamailio dispatched INVITEs: %v", c.dispatched())
}

// startNodes starts a nats-server and three sigbridge nodes on it (with o,
// Prosody included), within the given time; both stop with the test.
func startNodes(t *testing.T, o LocalOptions, within time.Duration) (*natstest.Server, []*Local) {
	t.Helper()
	ns := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	o.Binary, o.Dir, o.Log, o.Prosody = sigbridgeBin, t.TempDir(), testLogger(t), needTool(t, "prosody", "prosody")
	nodes, err := StartLocalCluster(ctx, o, []string{ns.URL()}, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range nodes {
				t.Logf("node%d log (warnings, errors, cluster and XMPP stream events):\n%s", i+1,
					daemon.MatchingLines(l.LogFile, notableNodeLine, 300))
			}
			if p := nodes[0].prosody; p != nil {
				t.Logf("prosody log (warnings, errors, the component's connections):\n%s",
					daemon.MatchingLines(p.path("prosody.log"), notableProsodyLine(p.Component), 300))
			}
		}
		for _, l := range nodes {
			_ = l.Close()
		}
	})
	return ns, nodes
}

// notableProsodyLine picks the lines of Prosody's log that explain a
// stalled component: warnings, errors and whatever names the component.
func notableProsodyLine(component string) func(string) bool {
	return func(line string) bool {
		return strings.Contains(line, "\twarn\t") || strings.Contains(line, "\terror\t") ||
			strings.Contains(line, component)
	}
}

// notableNodeLine picks the lines of a node's log that explain a failed
// cluster test: warnings, errors, leadership and the XMPP stream.
func notableNodeLine(line string) bool {
	return strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") ||
		strings.Contains(line, `msg="cluster: `) || strings.Contains(line, `msg="xmpp stream`)
}
