package turntest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sigbridge/sigbridge/internal/daemon"
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

	d *daemon.Daemon
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
	port, err := daemon.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c.Addr = daemon.Loopback(port)
	c.d = daemon.New(daemon.Spec{Name: "turnserver", Path: bin, Args: c.args(port), Dir: c.Dir,
		Ready: daemon.DialTCP(c.Addr)})
	t.Cleanup(c.Stop)
	if err := c.d.Start(context.Background()); err != nil {
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
func (c *Coturn) LogTail() string { return daemon.Tail(6000, c.LogPath(), c.d.Console()) }

// Stop kills the server's process group (SIGTERM, then SIGKILL after 3 s)
// and waits until it is gone. It is safe to call more than once.
func (c *Coturn) Stop() { c.d.Stop() }
