package rtpenginetest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCommandHint names how to get rtpengine.
const TestCommandHint = "install it with `apt-get install -y rtpengine-daemon`, or run the README's single test " +
	"command (.ci/run), which installs every missing test peer"

// mediaPorts is the size of an instance's media port range (two ports per
// RTP/RTCP pair, two sides per call, rtcp-mux demultiplexing included).
const mediaPorts = 400

// Rtpengine is an rtpengine daemon on loopback, started for one test.
type Rtpengine struct {
	NG      string // ng control address, 127.0.0.1:port (UDP)
	PortMin int    // media port range
	PortMax int
	Dir     string

	bin    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
}

// Start starts rtpengine and waits until it answers an ng ping. A missing
// binary fails the test (never skips it). Stop is registered with
// t.Cleanup.
func Start(t testing.TB) *Rtpengine {
	t.Helper()
	bin, err := exec.LookPath("rtpengine")
	if err != nil {
		t.Fatalf("rtpengine not found in PATH: %s", TestCommandHint)
	}
	r := &Rtpengine{Dir: t.TempDir(), bin: bin}
	port, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	r.NG = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if r.PortMin, r.PortMax, err = mediaRange(mediaPorts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	if err := r.start(); err != nil {
		t.Fatalf("%v\n%s", err, r.LogTail())
	}
	return r
}

// Args is the whole configuration: no config file, userspace forwarding,
// loopback only, logs on stderr.
func (r *Rtpengine) Args() []string {
	return []string{"--config-file=none", "--foreground", "--log-stderr", "--table=-1",
		"--interface=127.0.0.1", "--listen-ng=" + r.NG,
		"--port-min=" + strconv.Itoa(r.PortMin), "--port-max=" + strconv.Itoa(r.PortMax),
		"--delete-delay=0", "--num-threads=2", "--media-num-threads=1",
		"--log-level=6", "--pidfile=" + filepath.Join(r.Dir, "rtpengine.pid")}
}

// PID is the daemon's process id (0 when it is not running).
func (r *Rtpengine) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// LogPath is the daemon's console output.
func (r *Rtpengine) LogPath() string { return filepath.Join(r.Dir, "console.txt") }

// LogTail returns the end of the daemon's output (for failures).
func (r *Rtpengine) LogTail() string {
	data, _ := os.ReadFile(r.LogPath())
	if len(data) > 8000 {
		data = data[len(data)-8000:]
	}
	return fmt.Sprintf("--- rtpengine %s ---\n%s\n", r.LogPath(), data)
}

func (r *Rtpengine) start() error {
	out, err := os.OpenFile(r.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.bin, r.Args()...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, r.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start rtpengine: %w", err)
	}
	exited := make(chan struct{})
	r.mu.Lock()
	r.cmd, r.out, r.exited = cmd, out, exited
	r.mu.Unlock()
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if Ping(r.NG, 300*time.Millisecond) == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("rtpengine exited during start-up: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("rtpengine did not answer ng ping within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts the daemon again after Stop or Kill, on the same ng port
// and media range (a relay that comes back).
func (r *Rtpengine) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	if err := r.start(); err != nil {
		t.Fatalf("%v\n%s", err, r.LogTail())
	}
}

// Stop ends the daemon's process group (SIGTERM, then SIGKILL after 3 s)
// and waits until it is gone. It is safe to call more than once.
func (r *Rtpengine) Stop() { r.signal(syscall.SIGTERM) }

// Kill ends the daemon at once with SIGKILL (a relay that dies).
func (r *Rtpengine) Kill() { r.signal(syscall.SIGKILL) }

func (r *Rtpengine) signal(sig syscall.Signal) {
	r.mu.Lock()
	cmd, out, exited := r.cmd, r.out, r.exited
	r.cmd, r.out = nil, nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	waitGone(pid, 3*time.Second)
	out.Close()
}

// waitGone waits until no process of the group pid is left.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Ping sends one ng ping to addr and waits up to d for pong. It speaks the
// protocol by hand (a fixed message), so the starter does not depend on the
// client it helps to test.
func Ping(addr string, d time.Duration) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("rtpenginetest d7:command4:pinge")); err != nil {
		return err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.Equal(buf[:n], []byte("rtpenginetest d6:result4:ponge")) {
		return fmt.Errorf("rtpenginetest: unexpected ping answer %q", buf[:n])
	}
	return nil
}
