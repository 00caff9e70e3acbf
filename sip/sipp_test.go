package sip

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readmeTestCommand is how the README says to run these tests (it installs
// the real peers first).
const readmeTestCommand = "bash .ci/test.sh (as root: it apt-installs sip-tester and kamailio, then runs go test -race ./...; see README.md)"

// sippProc is one SIPp process started by a test; it is killed at test end.
type sippProc struct {
	addr string // SIPp's own SIP address
	dir  string
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// needSIPp returns the sipp binary or fails the test (never skips).
func needSIPp(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp not found (%v): install Debian package sip-tester; test command: %s", err, readmeTestCommand)
	}
	return p
}

// startSIPp runs scenario (a file in testdata/sipp) for one call. remote is
// the address SIPp calls (UAC scenarios) or "" (UAS scenarios).
func startSIPp(t *testing.T, scenario, remote string, extra ...string) *sippProc {
	t.Helper()
	bin := needSIPp(t)
	port, cport, mport := freePort(t), freePort(t), freePort(t)
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	p := &sippProc{addr: "127.0.0.1:" + strconv.Itoa(port), dir: t.TempDir(), out: &syncBuffer{}, done: make(chan error, 1)}
	args := []string{"-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-cp", strconv.Itoa(cport),
		"-mp", strconv.Itoa(mport), "-m", "1", "-aa", "-nostdin", "-timeout", "40s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(p.dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(p.dir, "messages.log")}
	if remote != "" {
		args = append([]string{remote}, args...)
	}
	p.run(t, bin, append(args, extra...))
	return p
}

func (p *sippProc) run(t *testing.T, bin string, args []string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp %s\n%s", args[0], p.logs())
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	})
	time.Sleep(300 * time.Millisecond) // SIPp binds its sockets
}

// wait expects SIPp to finish its call successfully.
func (p *sippProc) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("sipp failed: %v\n%s", err, p.logs())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("sipp did not finish\n%s", p.logs())
	}
}

// messageLog is what SIPp sent and received so far (-trace_msg).
func (p *sippProc) messageLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	if err != nil {
		t.Fatalf("sipp message log: %v", err)
	}
	return string(b)
}

func (p *sippProc) logs() string {
	errs, _ := os.ReadFile(filepath.Join(p.dir, "errors.log"))
	msgs, _ := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	out := p.out.String()
	if len(out) > 3000 {
		out = out[len(out)-3000:]
	}
	return fmt.Sprintf("--- sipp output (tail) ---\n%s\n--- errors ---\n%s\n--- messages ---\n%s", out, errs, msgs)
}
