package rtpenginetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
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
	port, err := daemon.FreeUDPPort()
	if err != nil {
		return nil, err
	}
	r.NG = daemon.Loopback(port)
	if r.PortMin, r.PortMax, err = mediaRange(mediaPorts); err != nil {
		return nil, err
	}
	r.d = daemon.New(daemon.Spec{Name: "rtpengine", Path: r.bin, Args: r.Args(), Dir: r.Dir,
		Console: r.LogPath(), StartTimeout: startWait, Ready: func() error { return Ping(r.NG, 300*time.Millisecond) }})
	if err := r.d.Start(ctx); err != nil {
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

// Stop ends the daemon's process group (SIGTERM, then SIGKILL after 3 s)
// and waits until it is gone. It is safe to call more than once.
func (r *Rtpengine) Stop() { r.d.Stop() }

// Kill ends the daemon at once with SIGKILL (a relay that dies).
func (r *Rtpengine) Kill() { r.d.Kill() }
