package natstest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one nats-server process on loopback, started for one test.
type Server struct {
	Port int    // client port on 127.0.0.1
	Dir  string // store and log directory

	bin string
	t   testing.TB

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
}

// URL is the client URL, nats://127.0.0.1:port.
func (s *Server) URL() string { return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Start builds (once per machine) and starts nats-server with JetStream on a
// free port, and waits until it serves clients. A failed build or start fails
// the test. Stop is registered with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	s := &Server{Port: port, Dir: t.TempDir(), bin: bin, t: t}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatalf("natstest: %v\n%s", err, s.LogTail())
	}
	return s
}

// args is the whole configuration: no config file, loopback only, JetStream
// with its store in Dir, no HTTP monitoring.
func (s *Server) args() []string {
	return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-js",
		"-sd", filepath.Join(s.Dir, "jetstream"), "-n", "natstest",
		"-l", s.LogPath()}
}

// LogPath is the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "nats-server.log") }

// LogTail returns the end of the log and console output (for failures).
func (s *Server) LogTail() string {
	var b strings.Builder
	for _, f := range []string{s.LogPath(), filepath.Join(s.Dir, "console.txt")} {
		data, _ := os.ReadFile(f)
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

// PID is the server's process ID, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) start() error {
	out, err := os.OpenFile(filepath.Join(s.Dir, "console.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start nats-server: %w", err)
	}
	s.mu.Lock()
	s.cmd, s.out = cmd, out
	s.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ready(s.Port) {
			go func() { <-exited }()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("nats-server exited during start-up: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("nats-server did not serve clients within 20 s")
		}
	}
}

// ready reports whether a NATS server on port greets with INFO.
func ready(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

// Stop ends the server (SIGTERM, then SIGKILL after 3 s) and waits until it
// is gone. It is safe to call more than once.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL at once, as a crash would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Restart starts the server again on the same port with the same store,
// after Stop or Kill; a failure fails the test.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("natstest: restart: %v\n%s", err, s.LogTail())
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, out := s.cmd, s.out
	s.cmd, s.out = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
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

// freePort returns a TCP port of 127.0.0.1 that was free just now.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
