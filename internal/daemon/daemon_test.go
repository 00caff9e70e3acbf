package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartReadyStop: a shell that starts a child in its group, becomes
// ready when it wrote a file; Stop takes the whole group down.
func TestStartReadyStop(t *testing.T) {
	dir := t.TempDir()
	flag := dir + "/ready"
	d := New(Spec{Path: "/bin/sh", Args: []string{"-c", `sleep 60 & echo $GREETING; touch ready; wait`}, Dir: dir,
		Env:   []string{"GREETING=hello"},
		Ready: func() error { _, err := os.Stat(flag); return err }})
	t.Cleanup(d.Stop)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pid := d.PID()
	if pid == 0 {
		t.Fatal("no pid")
	}
	d.Stop()
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still there after Stop: %v", pid, err)
	}
	if d.PID() != 0 {
		t.Fatal("PID after Stop")
	}
	if !strings.Contains(TailFile(d.Console(), 100), "hello") {
		t.Fatalf("console %q", TailFile(d.Console(), 100))
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if err := d.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.PID() == pid || d.PID() == 0 {
		t.Fatalf("restart: pid %d, was %d", d.PID(), pid)
	}
	if n := strings.Count(TailFile(d.Console(), 100), "hello"); n != 2 {
		t.Fatalf("console after restart holds %d hellos, want 2 (appended)", n)
	}
	d.Kill()
	if d.Err() == nil {
		t.Fatal("a killed process reports no error")
	}
}

// TestStopEscalates: a group that ignores SIGTERM is killed after 3 s.
func TestStopEscalates(t *testing.T) {
	dir := t.TempDir()
	d, err := Start(context.Background(), Spec{Path: "/bin/sh",
		Args: []string{"-c", `trap "" TERM; echo up; while :; do sleep 0.05; done`}, Dir: dir,
		Ready: func() error {
			if !strings.Contains(TailFile(dir+"/console.txt", 100), "up") {
				return errors.New("no trap yet")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Kill)
	pid := d.PID()
	start := time.Now()
	d.Stop()
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("group still there: %v", err)
	}
	if time.Since(start) < stopWait {
		t.Fatalf("stopped after %s: SIGTERM was not ignored?", time.Since(start))
	}
}

// TestStartFails: an exit during start-up, and a probe that never passes,
// are errors that stop the process.
func TestStartFails(t *testing.T) {
	never := func() error { return errors.New("not yet") }
	_, err := Start(context.Background(), Spec{Path: "/bin/false", Dir: t.TempDir(), Ready: never})
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Fatalf("exit during start: %v", err)
	}
	d := New(Spec{Path: "/bin/sleep", Args: []string{"60"}, Dir: t.TempDir(), Ready: never,
		StartTimeout: 300 * time.Millisecond})
	if err := d.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("timeout: %v", err)
	}
	if d.PID() != 0 {
		t.Fatal("a daemon that failed to start still runs")
	}
	if err := d.Wait(context.Background()); err == nil {
		t.Fatal("a stopped sleep exited 0")
	}
}

// TestProbes: DialTCP and Listening see a TCP listener and a UDP socket.
func TestProbes(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := DialTCP(l.Addr().String())(); err != nil {
		t.Fatal(err)
	}
	if err := Listening(port)(); err != nil {
		t.Fatal(err)
	}
	if err := ListeningTCP(port)(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if DialTCP(l.Addr().String())() == nil || ListeningTCP(port)() == nil {
		t.Fatal("probes pass on a closed port")
	}
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	up := u.LocalAddr().(*net.UDPAddr).Port
	if err := Listening(up)(); err != nil {
		t.Fatal(err)
	}
	if err := ListeningUDP(up)(); err != nil {
		t.Fatal(err)
	}
	if ListeningTCP(up)() == nil {
		t.Fatal("a UDP socket counts as a TCP listener")
	}
	if err := All(ListeningUDP(up), Listening(up))(); err != nil {
		t.Fatalf("All of two passing probes: %v", err)
	}
	if All(ListeningUDP(up), ListeningTCP(up))() == nil {
		t.Fatal("All passes with a failing probe")
	}
	if ListeningUDP(port)() == nil {
		t.Fatal("a closed TCP port counts as a bound UDP port")
	}
	p, err := FreePort()
	if err != nil || p == 0 {
		t.Fatal(p, err)
	}
}

// TestFreePortsBelowEphemeral: the free ports come from the band below
// Linux's ephemeral range (which bind(":0") and outgoing connections never
// take), free for what was asked, and a port taken is never returned.
func TestFreePortsBelowEphemeral(t *testing.T) {
	lo, hi := PickBand()
	eph := ephemeralLow()
	if hi > eph || lo >= hi {
		t.Fatalf("band %d-%d, ephemeral range from %d", lo, hi, eph)
	}
	for range 20 {
		p, err := FreePort()
		if err != nil || p < lo || p >= hi {
			t.Fatalf("FreePort %d, %v; want a port in %d-%d", p, err, lo, hi)
		}
		u, err := net.ListenPacket("udp4", Loopback(p))
		if err != nil {
			t.Fatalf("FreePort %d not free for UDP: %v", p, err)
		}
		l, err := net.Listen("tcp4", Loopback(p))
		if err != nil {
			t.Fatalf("FreePort %d not free for TCP: %v", p, err)
		}
		// While both are held, no Free function returns p.
		for range 50 {
			if q, err := FreeUDPPorts(4); err != nil || (q <= p && p < q+4) {
				t.Fatalf("FreeUDPPorts(4) = %d, %v while %d is bound", q, err, p)
			}
			if q, err := FreeTCPPort(); err != nil || q == p {
				t.Fatalf("FreeTCPPort = %d, %v while %d is bound", q, err, p)
			}
		}
		u.Close()
		l.Close()
	}
}

// TestBuildAndRun: a failed build is exit code 1 and run is not called; a
// good one hands run an executable that is gone afterwards.
func TestBuildAndRun(t *testing.T) {
	called := false
	if code := BuildAndRun("github.com/sigbridge/sigbridge/internal/no-such-command", func(string) int {
		called = true
		return 0
	}); code != 1 || called {
		t.Fatalf("bad package: code %d, run called %v", code, called)
	}
	var built string
	code := BuildAndRun("github.com/sigbridge/sigbridge/internal/daemon/testdata/hello", func(bin string) int {
		built = bin
		out, err := exec.Command(bin).Output()
		if err != nil || string(out) != "hello\n" {
			t.Errorf("built command: %q %v", out, err)
		}
		return 7
	})
	if code != 7 {
		t.Fatalf("code %d, want run's 7", code)
	}
	if _, err := os.Stat(built); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the binary %s outlived BuildAndRun: %v", built, err)
	}
}
