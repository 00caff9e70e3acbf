package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Spec describes one daemon.
type Spec struct {
	// Name names the daemon in errors and logs (default: Path's base name).
	Name string
	// Path is the executable; Args its arguments (without the name).
	Path string
	Args []string
	// Env is added to the test process's environment (nil: inherited as is).
	Env []string
	// Dir is the working directory, created if missing (required).
	Dir string
	// Console is the file stdout and stderr are appended to (default
	// Dir/console.txt).
	Console string
	// Ready returns nil once the daemon serves (its port answers). Start
	// calls it every 50 ms; nil means ready as soon as it runs.
	Ready func() error
	// StartTimeout bounds the wait for Ready (default 20 s).
	StartTimeout time.Duration
	// Log, if set, hears when a daemon needed SIGKILL.
	Log *slog.Logger
}

// stopWait is how long Stop waits after SIGTERM before SIGKILL, and after
// SIGKILL.
const stopWait = 3 * time.Second

// Daemon is a process started from a Spec; it may be stopped and started
// again. Its methods are safe for concurrent use.
type Daemon struct {
	spec Spec

	mu   sync.Mutex
	run  *run // the current process, nil when stopped
	last *run // the last started process
}

// run is one process of a Daemon.
type run struct {
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
	err    error // cmd.Wait's, set before exited closes
}

// New returns a stopped Daemon for spec; Start runs it.
func New(spec Spec) *Daemon {
	if spec.Name == "" {
		spec.Name = filepath.Base(spec.Path)
	}
	if spec.Console == "" {
		spec.Console = filepath.Join(spec.Dir, "console.txt")
	}
	if spec.StartTimeout == 0 {
		spec.StartTimeout = 20 * time.Second
	}
	return &Daemon{spec: spec}
}

// Start runs spec and waits until it is ready (see Daemon.Start).
func Start(ctx context.Context, spec Spec) (*Daemon, error) {
	d := New(spec)
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Spec is the daemon's specification, defaults filled in.
func (d *Daemon) Spec() Spec { return d.spec }

// Console is the file that holds the daemon's stdout and stderr.
func (d *Daemon) Console() string { return d.spec.Console }

// Start runs the process in its own process group and waits until Ready
// passes. If the process exits first, or ctx ends, or StartTimeout passes,
// Start stops what it started and returns an error (the console file
// stays for the caller's failure message). A running daemon is stopped
// first.
func (d *Daemon) Start(ctx context.Context) error {
	d.Stop()
	if d.spec.Dir == "" {
		return fmt.Errorf("daemon %s: no directory", d.spec.Name)
	}
	if err := os.MkdirAll(d.spec.Dir, 0o755); err != nil {
		return fmt.Errorf("daemon %s: %w", d.spec.Name, err)
	}
	out, err := os.OpenFile(d.spec.Console, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("daemon %s: console: %w", d.spec.Name, err)
	}
	cmd := exec.Command(d.spec.Path, d.spec.Args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, d.spec.Dir
	if d.spec.Env != nil {
		cmd.Env = append(os.Environ(), d.spec.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", d.spec.Name, err)
	}
	r := &run{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { r.err = cmd.Wait(); close(r.exited) }()
	d.mu.Lock()
	d.run, d.last = r, r
	d.mu.Unlock()
	if err := d.waitReady(ctx, r); err != nil {
		d.Stop()
		return err
	}
	return nil
}

// waitReady polls Ready until it passes, the process exits, or the bound
// or ctx ends; the error names the probe's last failure.
func (d *Daemon) waitReady(ctx context.Context, r *run) error {
	if d.spec.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.spec.StartTimeout)
	defer cancel()
	for {
		err := d.spec.Ready()
		if err == nil {
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("%s exited during start-up: %v", d.spec.Name, r.err)
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready within %s (%w): %v", d.spec.Name, d.spec.StartTimeout, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the running process's id, 0 when it is not running.
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil {
		return 0
	}
	return d.run.cmd.Process.Pid
}

// Done is closed when the last started process has exited (a nil channel,
// which blocks, before the first Start).
func (d *Daemon) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		return nil
	}
	return d.last.exited
}

// Err is the last process's exit error (cmd.Wait's) once Done is closed.
func (d *Daemon) Err() error {
	d.mu.Lock()
	r := d.last
	d.mu.Unlock()
	if r == nil {
		return errors.New("daemon: not started")
	}
	select {
	case <-r.exited:
		return r.err
	default:
		return fmt.Errorf("%s is still running", d.spec.Name)
	}
}

// Wait waits until the last started process exits and returns its exit
// error, or ctx's error.
func (d *Daemon) Wait(ctx context.Context) error {
	done := d.Done()
	if done == nil {
		return errors.New("daemon: not started")
	}
	select {
	case <-done:
		return d.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends the process group (SIGTERM, then SIGKILL after 3 s) and waits
// until it is gone. It is safe to call more than once, and on a daemon
// that was never started.
func (d *Daemon) Stop() { d.signal(syscall.SIGTERM) }

// Kill ends the process group with SIGKILL at once, as a crash would, and
// waits until it is gone.
func (d *Daemon) Kill() { d.signal(syscall.SIGKILL) }

// Restart stops the daemon and starts it again with the same Spec.
func (d *Daemon) Restart(ctx context.Context) error { return d.Start(ctx) }

func (d *Daemon) signal(sig syscall.Signal) {
	d.mu.Lock()
	r := d.run
	d.run = nil
	d.mu.Unlock()
	if r == nil {
		return
	}
	pid := r.cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	if !r.waitGone(stopWait) {
		if d.spec.Log != nil && sig != syscall.SIGKILL {
			d.spec.Log.Warn(d.spec.Name+" did not stop on SIGTERM; killing it", "pid", pid)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		r.waitGone(stopWait)
	}
	r.out.Close()
}

// waitGone waits until the leader was reaped and no process of its group
// is left.
func (r *run) waitGone(d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	select {
	case <-r.exited:
	case <-deadline.C:
		return false
	}
	pid := r.cmd.Process.Pid
	for {
		if err := syscall.Kill(-pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		select {
		case <-deadline.C:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
