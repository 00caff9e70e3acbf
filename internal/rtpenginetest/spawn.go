package rtpenginetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Options configures Spawn.
type Options struct {
	Bin string // the rtpengine binary (default: rtpengine on PATH)
	Dir string // working directory for the pid file and console log (required)
}

// startWait bounds how long a start waits for the first pong.
const startWait = 20 * time.Second

// Spawn starts rtpengine on a free ng port of 127.0.0.1 with a free media
// port range below the ephemeral range, and returns once it answers an ng
// ping (or ctx ends, or 20 s pass). It needs no testing.TB: the interop
// harness starts its relay with it; Start wraps it for tests. The caller
// stops the daemon with Stop or Kill.
func Spawn(ctx context.Context, o Options) (*Rtpengine, error) {
	if o.Dir == "" {
		return nil, errors.New("rtpenginetest: Spawn needs a directory")
	}
	if o.Bin == "" {
		bin, err := exec.LookPath("rtpengine")
		if err != nil {
			return nil, fmt.Errorf("rtpengine not found in PATH: %s", TestCommandHint)
		}
		o.Bin = bin
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("rtpenginetest: %w", err)
	}
	r := &Rtpengine{Dir: o.Dir, bin: o.Bin}
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	r.NG = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if r.PortMin, r.PortMax, err = mediaRange(mediaPorts); err != nil {
		return nil, err
	}
	if err := r.start(ctx); err != nil {
		r.Stop()
		return nil, fmt.Errorf("%w\n%s", err, r.LogTail())
	}
	return r, nil
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

// start runs the daemon in its own process group and waits for a pong.
func (r *Rtpengine) start(ctx context.Context) error {
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
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for {
		if Ping(r.NG, 300*time.Millisecond) == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("rtpengine exited during start-up: %v", cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("rtpengine did not answer an ng ping: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
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
