package natstest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// Server is one nats-server process on loopback, started for one test.
type Server struct {
	Port int    // client port on 127.0.0.1
	Dir  string // store and log directory

	t testing.TB
	d *daemon.Daemon
}

// URL is the client URL, nats://127.0.0.1:port.
func (s *Server) URL() string { return "nats://" + daemon.Loopback(s.Port) }

// Start builds (once per machine) and starts nats-server with JetStream on a
// free port, and waits until it serves clients. A failed build or start fails
// the test. Stop is registered with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	port, err := daemon.FreeTCPPort()
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	s := &Server{Port: port, Dir: t.TempDir(), t: t}
	s.d = daemon.New(daemon.Spec{Name: "nats-server", Path: bin, Args: s.args(), Dir: s.Dir,
		Ready: func() error { return ready(s.Port) }})
	t.Cleanup(s.Stop)
	if err := s.d.Start(context.Background()); err != nil {
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
func (s *Server) LogTail() string { return daemon.Tail(6000, s.LogPath(), s.d.Console()) }

// PID is the server's process ID, 0 when it is not running.
func (s *Server) PID() int { return s.d.PID() }

// ready returns nil once a NATS server on port greets with INFO.
func ready(port int) error {
	conn, err := net.DialTimeout("tcp", daemon.Loopback(port), 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "INFO ") {
		return errors.New("no INFO greeting")
	}
	return nil
}

// Stop ends the server (SIGTERM, then SIGKILL after 3 s) and waits until it
// is gone. It is safe to call more than once.
func (s *Server) Stop() { s.d.Stop() }

// Kill ends the server with SIGKILL at once, as a crash would.
func (s *Server) Kill() { s.d.Kill() }

// Restart starts the server again on the same port with the same store,
// after Stop or Kill; a failure fails the test.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.d.Restart(context.Background()); err != nil {
		s.t.Fatalf("natstest: restart: %v\n%s", err, s.LogTail())
	}
}
