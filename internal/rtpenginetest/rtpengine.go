package rtpenginetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// TestCommandHint names how to get rtpengine.
const TestCommandHint = "install it with `apt-get install -y rtpengine-daemon`, or run the README's single test " +
	"command (.ci/run), which installs every missing test peer"

// mediaPorts is the size of an instance's media port range (two ports per
// RTP/RTCP pair, two sides per call, rtcp-mux demultiplexing included).
const mediaPorts = 400

// Rtpengine is an rtpengine daemon on loopback (Spawn, or Start for one
// test).
type Rtpengine struct {
	NG      string // ng control address, 127.0.0.1:port (UDP)
	PortMin int    // media port range
	PortMax int
	Dir     string

	bin string
	d   *daemon.Daemon
}

// TB is the part of testing.TB that Start and Restart use (a testing.TB
// is one). Naming it here keeps package testing out of binaries that use
// Spawn (sigbridge's interop harness).
type TB interface {
	Helper()
	TempDir() string
	Cleanup(func())
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Start starts rtpengine (Spawn in a test directory) and waits until it
// answers an ng ping. A missing binary fails the test (never skips it).
// Stop is registered with t.Cleanup.
func Start(t TB) *Rtpengine {
	t.Helper()
	r, err := Spawn(context.Background(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// PID is the daemon's process id (0 when it is not running).
func (r *Rtpengine) PID() int { return r.d.PID() }

// LogPath is the daemon's console output.
func (r *Rtpengine) LogPath() string { return filepath.Join(r.Dir, "console.txt") }

// LogTail returns the end of the daemon's output (for failures).
func (r *Rtpengine) LogTail() string {
	return fmt.Sprintf("--- rtpengine %s ---\n%s\n", r.LogPath(), daemon.TailFile(r.LogPath(), 8000))
}

// Restart starts the daemon again after Stop or Kill, on the same ng port
// and media range (a relay that comes back).
func (r *Rtpengine) Restart(t TB) {
	t.Helper()
	if err := r.d.Restart(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, r.LogTail())
	}
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
