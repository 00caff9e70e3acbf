package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// nodeProc is one `sigbridge serve` process of a test cluster.
type nodeProc struct {
	name, http, log string
	cmd             *exec.Cmd
}

// startNodeProc starts `sigbridge serve` as cluster node name, with the
// default heartbeat and node timeout, on a free loopback port.
func startNodeProc(t *testing.T, bin, natsURL, name string) *nodeProc {
	t.Helper()
	return startNodeProcArgs(t, bin, natsURL, name)
}

// startNodeProcArgs is startNodeProc with more arguments (they win over
// the defaults: --sip off).
func startNodeProcArgs(t *testing.T, bin, natsURL, name string, args ...string) *nodeProc {
	t.Helper()
	port, err := daemon.FreeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{name: name, http: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		log: filepath.Join(t.TempDir(), name+".log")}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(bin, append([]string{"serve", "--http", p.http, "--sip", "off", "--nats", natsURL, "--node", name}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("log of %s:\n%s", name, tail(string(b), 4000))
		}
	})
	waitReadyz(t, "http://"+p.http, 200)
	return p
}

// kill sends SIGKILL to the node (kill -9) and reaps it.
func (p *nodeProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *nodeProc) ws() string { return "ws://" + p.http + "/ws" }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// TestClusterKillNode: three `sigbridge serve` processes on one
// nats-server, default timeouts. kill -9 of the node in the middle of two
// calls (one it owns, one it relays) ends the other legs with
// connectivity-error, its users leave the other nodes' user lists, they
// log in again on a surviving node under the same names, and new calls
// work.
func TestClusterKillNode(t *testing.T) {
	bin := builtSigbridge(t)
	srv := natstest.Start(t)
	n1 := startNodeProc(t, bin, srv.URL(), "n1")
	n2 := startNodeProc(t, bin, srv.URL(), "n2")
	n3 := startNodeProc(t, bin, srv.URL(), "n3")

	alice := login(t, n1.ws(), "alice", false)
	bob := login(t, n2.ws(), "bob", false)
	dave := login(t, n2.ws(), "dave", false)
	carol := login(t, n3.ws(), "carol", false)
	waitUserlist(t, alice, "everybody", has("alice", "bob", "carol", "dave"))

	// alice (n1) → bob (n2): n2 relays. dave (n2) → carol (n3): n2 owns.
	if err := alice.Call(tctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	if err := dave.Call(tctx(t), "carol"); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, alice, bob)
	waitMedia(t, dave, carol)

	killed := time.Now()
	n2.kill()
	for _, p := range []*browser{alice, carol} {
		m := waitHangUp(t, p, 20*time.Second)
		if m.Str("reason") != "connectivity-error" {
			t.Fatalf("%s: hang-up %v, want connectivity-error", p.Client.Name, m)
		}
		t.Logf("%s's call ended %v after kill -9 of n2 (%s)", p.Client.Name, time.Since(killed).Round(time.Millisecond), m.Str("text"))
	}
	waitUserlist(t, alice, "neither bob nor dave", func(l []string) bool { return lacks("bob")(l) && lacks("dave")(l) })
	t.Logf("n2's users left n1's list %v after the kill", time.Since(killed).Round(time.Millisecond))

	// bob and dave come back on n3 under their own names; calls work.
	bob = login(t, n3.ws(), "bob", false)
	dave = login(t, n1.ws(), "dave", false)
	if bob.Client.Name != "bob" || dave.Client.Name != "dave" {
		t.Fatalf("logged in again as %q and %q", bob.Client.Name, dave.Client.Name)
	}
	alice2 := login(t, n1.ws(), "alice2", false)
	carol2 := login(t, n3.ws(), "carol2", false)
	if err := alice2.Call(tctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	if err := carol2.Call(tctx(t), "dave"); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, alice2, bob)
	waitMedia(t, carol2, dave)

	// NATS restarted under the survivors: they reconnect, and the calls
	// between them go on.
	srv.Restart()
	for _, n := range []*nodeProc{n1, n3} {
		waitReadyz(t, "http://"+n.http, 200)
	}
	noHangUp(t, alice2, 4*time.Second) // past the default node timeout
	exchange(t, alice2, bob, "after nats restart")
	exchange(t, carol2, dave, "after nats restart")
}
