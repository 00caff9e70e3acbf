package turntest

import (
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

// TestCommandHint names how to get coturn.
const TestCommandHint = "install it with `apt-get install -y coturn`, or run the README's single test " +
	"command (.ci/run), which installs every missing test peer"

// Coturn is a turnserver on loopback, started for one test.
type Coturn struct {
	Secret string // the static-auth-secret
	Realm  string
	Addr   string // 127.0.0.1:port (UDP and TCP)
	Dir    string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
}

// URL is the server's turn: URL over UDP.
func (c *Coturn) URL() string { return "turn:" + c.Addr + "?transport=udp" }

// Start starts turnserver with use-auth-secret and the given secret, and
// waits until it accepts TCP connections on its port. A missing turnserver
// fails the test (never skips it). Stop is registered with t.Cleanup.
func Start(t testing.TB, secret string) *Coturn {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		t.Fatalf("turnserver not found in PATH: %s", TestCommandHint)
	}
	c := &Coturn{Secret: secret, Realm: "sigbridge.test", Dir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	t.Cleanup(c.Stop)
	if err := c.start(bin, port); err != nil {
		t.Fatalf("%v\n%s", err, c.LogTail())
	}
	return c
}

// args is the whole configuration: no config file, loopback only, no TLS,
// no CLI, its own database, pid and log files.
func (c *Coturn) args(port int) []string {
	return []string{"-n",
		"--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--listening-port=" + strconv.Itoa(port),
		"--use-auth-secret", "--static-auth-secret=" + c.Secret, "--realm=" + c.Realm,
		"--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli", "--no-multicast-peers",
		"--db=" + filepath.Join(c.Dir, "turndb"), "--pidfile=" + filepath.Join(c.Dir, "turnserver.pid"),
		"--log-file=" + c.LogPath(), "--simple-log", "--no-stdout-log", "--verbose"}
}

// LogPath is turnserver's log file.
func (c *Coturn) LogPath() string { return filepath.Join(c.Dir, "turnserver.log") }

// LogTail returns the end of the log and console output (for failures).
func (c *Coturn) LogTail() string {
	var s string
	for _, f := range []string{c.LogPath(), filepath.Join(c.Dir, "console.txt")} {
		data, _ := os.ReadFile(f)
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		s += fmt.Sprintf("--- %s ---\n%s\n", filepath.Base(f), data)
	}
	return s
}

func (c *Coturn) start(bin string, port int) error {
	out, err := os.OpenFile(filepath.Join(c.Dir, "console.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, c.args(port)...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start turnserver: %w", err)
	}
	c.mu.Lock()
	c.cmd, c.out = cmd, out
	c.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.Addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			go func() { <-exited }()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("turnserver exited during start-up: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("turnserver did not open its port within 20 s")
		}
	}
}

// Stop kills the server's process group (SIGTERM, then SIGKILL after 3 s)
// and waits until it is gone. It is safe to call more than once.
func (c *Coturn) Stop() {
	c.mu.Lock()
	cmd, out := c.cmd, c.out
	c.cmd, c.out = nil, nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if !waitGone(pid, 3*time.Second) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		waitGone(pid, 3*time.Second)
	}
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

// freePort returns a port of 127.0.0.1 that was free just now for both
// UDP and TCP.
func freePort() (int, error) {
	for range 20 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("turntest: no free port for UDP and TCP")
}
