package interop

import (
	"strings"
	"testing"
	"time"
)

// TestNodeForSpreadsSides checks the choice of nodes: with two or more
// URLs every scenario's caller and callee are on different nodes, the
// matrix uses every node on both sides, and the choice is stable.
func TestNodeForSpreadsSides(t *testing.T) {
	for _, n := range []int{2, 3} {
		var urls []string
		for i := range n {
			urls = append(urls, "ws://127.0.0.1:"+string(rune('1'+i))+"000/ws")
		}
		dep := Deployment{WS: "ws://ignored/ws", WSNodes: urls}
		callers, callees := map[int]int{}, map[int]int{}
		for _, s := range Matrix() {
			cu, ci := dep.nodeFor(s.Name, roleCaller)
			eu, ei := dep.nodeFor(s.Name, roleCallee)
			if ci == ei || cu == eu {
				t.Fatalf("%d nodes: %s puts both sides on node %d", n, s.Name, ci)
			}
			if again, _ := dep.nodeFor(s.Name, roleCaller); again != cu {
				t.Fatalf("%s: node choice not stable", s.Name)
			}
			if got := dep.forParty(s.Name, roleCallee).WS; got != eu {
				t.Fatalf("forParty: WS %s, want %s", got, eu)
			}
			callers[ci]++
			callees[ei]++
		}
		if len(callers) != n || len(callees) != n {
			t.Errorf("%d nodes: callers on %v, callees on %v: not every node used", n, callers, callees)
		}
	}
	one := Deployment{WS: "ws://one/ws"}
	if u, _ := one.nodeFor("x", roleCallee); u != "ws://one/ws" {
		t.Errorf("one node: %q", u)
	}
	if err := (Deployment{}).Supports(Party{Dialect: Browser}); err == nil {
		t.Error("no WebSocket URL at all: browser dialect supported")
	}
	if err := (Deployment{WSNodes: []string{"ws://a/ws"}}).Supports(Party{Dialect: Browser}); err != nil {
		t.Errorf("WSNodes only: %v", err)
	}
}

// TestWSNodesCrossNodes runs browser → browser calls with two WebSocket
// URLs. Two separate (unclustered) gateways do not know each other's
// users, so the call fails with the callee unknown: proof that the two
// sides really were on different nodes. The same gateway named twice
// passes, and the report names each side's node.
func TestWSNodesCrossNodes(t *testing.T) {
	a, b := startLocal(t), startLocal(t)
	scs := pick(t, "browser-to-browser/answered-audio")

	apart := a.Deployment
	apart.WSNodes = []string{a.WS, b.WS}
	rs := Run(t.Context(), apart, scs)
	logResult(t, rs[0])
	if rs[0].Status != Fail || !strings.Contains(rs[0].Reason, "callee never got the call") {
		t.Errorf("two unclustered gateways: %s (%s), want a failure: the callee never got the call", rs[0].Status, rs[0].Reason)
	}
	if rs[0].CallerNode == rs[0].CalleeNode || rs[0].CallerNode == "" {
		t.Errorf("nodes: caller %q, callee %q", rs[0].CallerNode, rs[0].CalleeNode)
	}

	same := a.Deployment
	same.WSNodes = []string{a.WS, strings.Replace(a.WS, "127.0.0.1", "localhost", 1)}
	rs = runMatrix(t, same, scs, time.Minute)
	wantStatus(t, rs, "browser-to-browser/answered-audio", Pass)
	var sb strings.Builder
	if err := WriteText(&sb, "two names", rs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "caller on ") || !strings.Contains(sb.String(), "callee on ") {
		t.Errorf("the report does not name the nodes:\n%s", sb.String())
	}
}
