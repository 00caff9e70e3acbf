package cluster

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// electionNode starts a node with short timers on the test's NATS.
func electionNode(t *testing.T, url, name string) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := Config{NATS: []string{url}, Node: name, HeartbeatInterval: 200 * time.Millisecond,
		NodeTimeout: time.Second}
	n, err := Start(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	for !n.Ready() {
		if ctx.Err() != nil {
			t.Fatalf("%s not ready", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// leaders records who leads, and fails the test if two lead at once.
type leaders struct {
	t       *testing.T
	mu      sync.Mutex
	current map[string]bool
	terms   []string
	changed chan struct{}
	over    atomic.Int32 // times two nodes led at once
}

func newLeaders(t *testing.T) *leaders {
	return &leaders{t: t, current: map[string]bool{}, changed: make(chan struct{}, 64)}
}

func (l *leaders) run(name string) func(context.Context) {
	return func(ctx context.Context) {
		l.mu.Lock()
		l.current[name] = true
		if len(l.current) > 1 {
			l.over.Add(1)
		}
		l.terms = append(l.terms, name)
		l.mu.Unlock()
		l.changed <- struct{}{}
		<-ctx.Done()
		l.mu.Lock()
		delete(l.current, name)
		l.mu.Unlock()
		l.changed <- struct{}{}
	}
}

// waitLeader waits until exactly one node other than not leads.
func (l *leaders) waitLeader(within time.Duration, not string) string {
	l.t.Helper()
	deadline := time.After(within)
	for {
		l.mu.Lock()
		var who string
		n := len(l.current)
		for k := range l.current {
			who = k
		}
		l.mu.Unlock()
		if n == 1 && who != not {
			return who
		}
		select {
		case <-l.changed:
		case <-deadline:
			l.t.Fatalf("no single leader (other than %q) within %v", not, within)
		}
	}
}

// TestLeadOneAtATime: four nodes campaign for one component domain; one
// leads and the others agree on it (Leader, LeaderLocator). When the
// leader steps down (its campaign ends) or shuts down (campaign ended,
// node closed), another node leads at once; while they all reach NATS, two never lead at once. When the leader
// loses NATS without a word (its heartbeats stop, as after kill -9),
// another node leads within the node timeout, while the cut-off one keeps
// leading: it cannot know, and its calls need no NATS (the XMPP server
// refuses the second component connection until the old one goes).
func TestLeadOneAtATime(t *testing.T) {
	ns := natstest.Start(t)
	nodes := map[string]*Node{}
	stops := map[string]context.CancelFunc{}
	done := map[string]chan struct{}{}
	l := newLeaders(t)
	for _, name := range []string{"a", "b", "c", "d"} {
		n := electionNode(t, ns.URL(), name)
		nodes[name] = n
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		stops[name], done[name] = cancel, ran
		go func() { defer close(ran); n.Lead(ctx, KindXMPPComponent, "gw.test", l.run(name)) }()
		t.Cleanup(func() { cancel(); <-ran })
	}
	first := l.waitLeader(10*time.Second, "")
	time.Sleep(600 * time.Millisecond) // the others keep polling
	target, err := gateway.ParseTarget("xmpp:juliet@example.org")
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range nodes {
		// Each node's view follows the registry's watch (late on a loaded box).
		waitFor(t, 10*time.Second, "node "+name+" to see leader "+first, func() bool {
			who, ok := n.Leader(KindXMPPComponent, "gw.test")
			return ok && who == first
		})
		node, remote, err := n.LeaderLocator(KindXMPPComponent, "gw.test")(context.Background(), target)
		if err != nil || remote != (name != first) || (remote && node != first) {
			t.Errorf("locator on %s: %q remote=%v err=%v", name, node, remote, err)
		}
	}

	start := time.Now()
	stops[first]()
	<-done[first]
	second := l.waitLeader(10*time.Second, first)
	t.Logf("step-down: %s → %s in %v", first, second, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	stops[second]() // a node shutting down ends its campaigns first (as serve does), then closes
	<-done[second]
	_ = nodes[second].Close()
	third := l.waitLeader(10*time.Second, second)
	t.Logf("close: %s → %s in %v", second, third, time.Since(start).Round(time.Millisecond))
	if third == first {
		t.Fatalf("the stopped campaign of %s leads again", first)
	}
	if n := l.over.Load(); n != 0 {
		t.Errorf("two nodes led at once %d times", n)
	}

	// NATS restarts (the registry's memory bucket is lost): the leader
	// writes its claim again and keeps leading; nobody else takes over.
	terms := func() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.terms) }
	before := terms()
	ns.Restart()
	for _, name := range []string{"a", "c", "d"} {
		if name == second {
			continue
		}
		n := nodes[name]
		waitFor(t, 10*time.Second, name+" ready after the NATS restart", n.Ready)
	}
	time.Sleep(2 * time.Second) // past the campaigners' NodeTimeout in step
	waitFor(t, 10*time.Second, "the registry to name "+third+" after the NATS restart", func() bool {
		who, ok := nodes[third].Leader(KindXMPPComponent, "gw.test")
		return ok && who == third
	})
	if n := terms(); n != before {
		t.Errorf("the NATS restart changed the leader: %d terms, want %d", n, before)
	}

	start = time.Now()
	nodes[third].nc.Close() // silent: no release, no goodbye
	// The time taken is logged; the bound is for a loaded box, not a
	// performance check.
	deadline := time.Now().Add(10 * time.Second)
	var fourth string
	for fourth == "" && time.Now().Before(deadline) {
		l.mu.Lock()
		for k := range l.current {
			if k != third {
				fourth = k
			}
		}
		still := l.current[third]
		l.mu.Unlock()
		if !still {
			t.Fatalf("%s stopped leading when it lost NATS", third)
		}
		if fourth == "" {
			select {
			case <-l.changed:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if fourth == "" {
		t.Fatalf("nobody took over from %s within 10 s of its silence", third)
	}
	t.Logf("silent loss: %s → %s in %v (node timeout 1 s)", third, fourth, time.Since(start).Round(time.Millisecond))
}
