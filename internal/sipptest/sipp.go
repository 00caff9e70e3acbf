package sipptest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// TestCommandHint names how to get SIPp.
const TestCommandHint = "install Debian package sip-tester, or run the README's test command " +
	"(bash .ci/test.sh), which installs every missing test peer"

// Options configure one SIPp run.
type Options struct {
	// Bin is the sipp binary (default: sipp on PATH).
	Bin string
	// Scenario is the scenario file (-sf).
	Scenario string
	// Dir is the working directory for the traces and console (required).
	Dir string
	// Remote is the host:port a UAC calls; "" for a UAS.
	Remote string
	// Host is the local address (-i); "" lets SIPp pick its default
	// route's.
	Host string
	// Port is the local SIP port (-p); 0 takes one free for UDP and TCP.
	Port int
	// Transport is -t ("u1", "t1"); "" is SIPp's default, UDP.
	Transport string
	// Calls is -m, the calls after which SIPp exits (default 1).
	Calls int
	// Timeout is -timeout, after which SIPp exits with an error
	// (-timeout_error; default 60 s).
	Timeout time.Duration
	// TraceMessages writes every message sent and received to
	// MessagesPath (-trace_msg).
	TraceMessages bool
	// TraceLogs writes the scenario's <log> actions to EventsPath
	// (-trace_logs).
	TraceLogs bool
	// Extra are more arguments, after the others (a later -m or -timeout
	// wins).
	Extra []string
	// Log, if set, hears the command line and a SIPp that needed SIGKILL.
	Log *slog.Logger
}

// SIPp is one running SIPp.
type SIPp struct {
	// Addr is SIPp's SIP address, Host (127.0.0.1 when empty) and Port.
	Addr string
	// Port is SIPp's SIP port.
	Port int
	// Dir holds the traces and the console output.
	Dir string

	args  []string
	media int // -mp: SIPp binds it and media+2 at start-up
	d     *daemon.Daemon
}

// startAttempts bounds the starts of a SIPp whose ports were taken.
const startAttempts = 3

// fixedPortAttempts bounds the starts of a SIPp whose SIP port was given
// (Options.Port) and taken: that port cannot be swapped for another, so
// each start waits first, fixedPortPause and then twice as long each time
// (3.1 s in all), for whoever holds it now (another test's port probe or
// media port, a SIPp that had it before, exiting) to let it go.
const fixedPortAttempts = 6

// fixedPortPause is the first wait before starting again on a given port.
const fixedPortPause = 100 * time.Millisecond

// Start runs SIPp with o. It returns once SIPp has bound its media ports
// and, for a UAS, its SIP port (or SIPp exits, or ctx ends, or 20 s pass).
// The caller ends it with Wait, Stop or Kill. A SIPp, UAS or UAC, that
// could not bind one of the ports picked for it (free when picked, taken
// before SIPp bound it) is started again on other ports, up to
// startAttempts times; one whose given SIP port (Options.Port) was taken
// is started again on it after a pause, up to fixedPortAttempts times.
func Start(ctx context.Context, o Options) (*SIPp, error) {
	attempts, pause := startAttempts, time.Duration(0)
	if o.Port != 0 {
		attempts, pause = fixedPortAttempts, fixedPortPause
	}
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, o)
		if err == nil {
			return s, nil
		}
		if attempt == attempts || s == nil || !s.bindFailed() {
			return nil, err
		}
		if o.Log != nil {
			o.Log.Info("sipp could not bind a port; starting it again", "attempt", attempt,
				"same_sip_port", o.Port != 0, "pause", pause.String(), "err", err)
		}
		if pause > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("sipptest: %w (after: %w)", ctx.Err(), err)
			case <-time.After(pause):
			}
			pause *= 2
		}
	}
}

// bindFailed reports whether SIPp said a port it was given is in use.
func (s *SIPp) bindFailed() bool {
	b, err := os.ReadFile(s.ErrorsPath())
	return err == nil && strings.Contains(string(b), "errno = 98")
}

func start(ctx context.Context, o Options) (*SIPp, error) {
	if o.Dir == "" || o.Scenario == "" {
		return nil, errors.New("sipptest: Start needs a scenario and a directory")
	}
	if o.Bin == "" {
		bin, err := exec.LookPath("sipp")
		if err != nil {
			return nil, fmt.Errorf("sipp not found in PATH (%w): %s", err, TestCommandHint)
		}
		o.Bin = bin
	}
	s := &SIPp{Port: o.Port, Dir: o.Dir}
	if s.Port == 0 {
		p, err := daemon.FreePort()
		if err != nil {
			return nil, fmt.Errorf("sipptest: %w", err)
		}
		s.Port = p
	}
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	s.Addr = net.JoinHostPort(host, strconv.Itoa(s.Port))
	args, err := s.buildArgs(o)
	if err != nil {
		return nil, err
	}
	s.args = args
	spec := daemon.Spec{Name: "sipp " + filepath.Base(o.Scenario), Path: o.Bin, Args: args, Dir: o.Dir, Log: o.Log}
	ready := []func() error{daemon.ListeningUDP(s.media), daemon.ListeningUDP(s.media + 2)}
	if o.Remote == "" {
		sipReady := daemon.ListeningUDP(s.Port)
		if strings.HasPrefix(transport(o), "t") {
			sipReady = daemon.ListeningTCP(s.Port)
		}
		ready = append(ready, sipReady)
	}
	spec.Ready = daemon.All(ready...)
	if o.Log != nil {
		o.Log.Debug("starting sipp", "args", args)
	}
	s.d = daemon.New(spec)
	_ = os.Remove(s.ErrorsPath()) // a former attempt's
	if err := s.d.Start(ctx); err != nil {
		if o.Remote != "" && s.exited() && !s.bindFailed() {
			return s, nil // a UAC that ran its calls before a probe saw its ports: its exit is the verdict
		}
		return s, fmt.Errorf("sipptest: %w\n%s", err, s.Logs())
	}
	return s, nil
}

// exited reports whether SIPp has exited.
func (s *SIPp) exited() bool {
	select {
	case <-s.d.Done():
		return true
	default:
		return false
	}
}

// transport is SIPp's -t: Options.Transport, or the last -t of Extra.
func transport(o Options) string {
	t := o.Transport
	for i, a := range o.Extra {
		if a == "-t" && i+1 < len(o.Extra) {
			t = o.Extra[i+1]
		}
	}
	return t
}

// buildArgs is SIPp's command line for o.
func (s *SIPp) buildArgs(o Options) ([]string, error) {
	ctl, err := daemon.FreeUDPPort()
	if err != nil {
		return nil, fmt.Errorf("sipptest: %w", err)
	}
	media, err := daemon.FreeUDPPorts(4) // SIPp binds -mp and -mp+2 at start-up (RTP of audio and video)
	if err != nil {
		return nil, fmt.Errorf("sipptest: %w", err)
	}
	s.media = media
	calls, timeout := o.Calls, o.Timeout
	if calls == 0 {
		calls = 1
	}
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	var args []string
	if o.Remote != "" {
		args = append(args, o.Remote)
	}
	args = append(args, "-sf", o.Scenario, "-p", strconv.Itoa(s.Port), "-cp", strconv.Itoa(ctl),
		"-mp", strconv.Itoa(media), "-m", strconv.Itoa(calls), "-aa", "-nostdin",
		"-timeout", strconv.Itoa(int(timeout.Seconds()))+"s", "-timeout_error",
		"-trace_err", "-error_file", s.ErrorsPath())
	if o.Host != "" {
		args = append(args, "-i", o.Host)
	}
	if o.Transport != "" {
		args = append(args, "-t", o.Transport)
	}
	if o.TraceMessages {
		args = append(args, "-trace_msg", "-message_file", s.MessagesPath())
	}
	if o.TraceLogs {
		args = append(args, "-trace_logs", "-log_file", s.EventsPath())
	}
	return append(args, o.Extra...), nil
}

// Args is SIPp's command line (without the binary).
func (s *SIPp) Args() []string { return s.args }

// ErrorsPath is SIPp's error trace (-trace_err).
func (s *SIPp) ErrorsPath() string { return filepath.Join(s.Dir, "errors.log") }

// MessagesPath is SIPp's message trace (Options.TraceMessages).
func (s *SIPp) MessagesPath() string { return filepath.Join(s.Dir, "messages.log") }

// EventsPath is the trace of the scenario's <log> actions
// (Options.TraceLogs).
func (s *SIPp) EventsPath() string { return filepath.Join(s.Dir, "events.log") }

// ConsolePath is SIPp's stdout and stderr.
func (s *SIPp) ConsolePath() string { return s.d.Console() }

// Done is closed when SIPp has exited.
func (s *SIPp) Done() <-chan struct{} { return s.d.Done() }

// Err is SIPp's exit error once Done is closed: nil when every call ran
// the scenario to its end.
func (s *SIPp) Err() error { return s.d.Err() }

// Wait waits until SIPp exits and returns its exit error, or ctx's error.
func (s *SIPp) Wait(ctx context.Context) error { return s.d.Wait(ctx) }

// Stop ends SIPp's process group (SIGTERM, then SIGKILL after 3 s) and
// waits until it is gone. Safe to call more than once.
func (s *SIPp) Stop() { s.d.Stop() }

// Kill ends SIPp's process group with SIGKILL at once.
func (s *SIPp) Kill() { s.d.Kill() }

// MessageLog is what SIPp sent and received so far
// (Options.TraceMessages).
func (s *SIPp) MessageLog() (string, error) {
	b, err := os.ReadFile(s.MessagesPath())
	if err != nil {
		return "", fmt.Errorf("sipptest: message log: %w", err)
	}
	return string(b), nil
}

// Logs is the end of SIPp's console, its error trace and its message
// trace, for a failure message.
func (s *SIPp) Logs() string {
	return fmt.Sprintf("--- sipp output (tail) ---\n%s\n--- errors ---\n%s\n--- messages ---\n%s",
		daemon.TailFile(filepath.Join(s.Dir, "console.txt"), 3000), daemon.TailFile(s.ErrorsPath(), 16000),
		daemon.TailFile(s.MessagesPath(), 32000))
}
