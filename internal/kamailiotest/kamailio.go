package kamailiotest

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// RegistrarConfig is a registrar and proxy: REGISTER with digest (user
// gwuser, password gwpass, no database), INVITEs routed to the registered
// contact and record-routed.
//
//go:embed registrar.cfg
var RegistrarConfig string

// DispatcherConfig is Kamailio in front of a sigbridge cluster: INVITEs
// spread over the nodes of dispatcher set 1 (round robin, failover on 503
// or no answer, nodes probed with OPTIONS), record-routed; in-dialog
// requests follow the route set to the node's own Contact. Its list file
// is the define DISPATCHER_LIST (Options.Nodes writes it).
//
//go:embed dispatcher.cfg
var DispatcherConfig string

// TestCommandHint names how to get Kamailio.
const TestCommandHint = "install it with `apt-get install -y kamailio`, or run the README's test command " +
	"(bash .ci/test.sh), which installs every missing test peer"

// Options configure one Kamailio.
type Options struct {
	// Config is the configuration file's text (RegistrarConfig,
	// DispatcherConfig).
	Config string
	// Port is the UDP and TCP port on 127.0.0.1 (0: a free one). A fixed
	// port lets a test start Kamailio after its clients.
	Port int
	// Nodes are the dispatcher's destinations ("127.0.0.1:5071"), written
	// to the list file named by DISPATCHER_LIST, as set 1, in order.
	Nodes []string
	// Defines are extra -A config defines ("DS_PING_INTERVAL=1").
	Defines []string
}

// Kamailio is a running kamailio.
type Kamailio struct {
	// Addr is 127.0.0.1:port, UDP and TCP.
	Addr string
	// Dir holds the configuration, the dispatcher list and the log.
	Dir string

	d *daemon.Daemon
}

// URI is Kamailio's SIP URI.
func (k *Kamailio) URI() string { return "sip:" + k.Addr }

// Start starts kamailio with o and waits until it answers OPTIONS. Stop is
// registered with t.Cleanup; a failed test gets the log.
func Start(t testing.TB, o Options) *Kamailio {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		t.Fatalf("kamailio not found in PATH: %s", TestCommandHint)
	}
	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = daemon.FreePort(); err != nil {
				t.Fatal(err)
			}
		}
		k := &Kamailio{Addr: daemon.Loopback(port), Dir: t.TempDir()}
		err := k.start(bin, o)
		if err == nil {
			daemon.Cleanup(t, "kamailio", k.Stop, k.LogTail)
			return k
		}
		// A free port taken by another process before Kamailio bound it:
		// try another one.
		if o.Port != 0 || attempt == 3 || !strings.Contains(k.Log(), "Address already in use") {
			t.Fatalf("%v\n%s", err, k.LogTail())
		}
	}
}

func (k *Kamailio) start(bin string, o Options) error {
	cfg := filepath.Join(k.Dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o600); err != nil {
		return err
	}
	var list strings.Builder
	for _, n := range o.Nodes {
		fmt.Fprintf(&list, "1 sip:%s\n", n)
	}
	listPath := filepath.Join(k.Dir, "dispatcher.list")
	if err := os.WriteFile(listPath, []byte(list.String()), 0o600); err != nil {
		return err
	}
	args := []string{"-f", cfg, "-DD", "-E", "-l", "udp:" + k.Addr, "-l", "tcp:" + k.Addr, "-Y", k.Dir,
		"-n", "1", "-m", "32", "-M", "8", "-A", "DISPATCHER_LIST=\"" + listPath + "\""}
	for _, d := range o.Defines {
		args = append(args, "-A", d)
	}
	k.d = daemon.New(daemon.Spec{Name: "kamailio", Path: bin, Args: args, Dir: k.Dir, Console: k.LogPath(),
		StartTimeout: 15 * time.Second, Ready: func() error {
			code, err := Options200(k.Addr, 300*time.Millisecond)
			if err == nil && code != 200 {
				err = fmt.Errorf("OPTIONS answered %d", code)
			}
			return err
		}})
	return k.d.Start(context.Background())
}

// Options200 sends one out-of-dialog OPTIONS to addr over UDP and returns
// the status code of the first final answer within d.
func Options200(addr string, d time.Duration) (int, error) {
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	req := "OPTIONS sip:" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + token() + ";rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@" + local + ">;tag=" + token() + "\r\n" +
		"To: <sip:" + addr + ">\r\nCall-ID: " + token() + "\r\nCSeq: 1 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n"
	_ = conn.SetDeadline(time.Now().Add(d))
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return 0, err
		}
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		f := strings.Fields(string(line))
		if len(f) < 2 || f[0] != "SIP/2.0" {
			continue
		}
		code, err := strconv.Atoi(f[1])
		if err != nil || code < 200 {
			continue
		}
		return code, nil
	}
}

// LogPath is Kamailio's log (stderr).
func (k *Kamailio) LogPath() string { return filepath.Join(k.Dir, "kamailio.log") }

// Log returns the whole log.
func (k *Kamailio) Log() string {
	b, _ := os.ReadFile(k.LogPath())
	return string(b)
}

// LogTail returns the end of the log.
func (k *Kamailio) LogTail() string { return daemon.TailFile(k.LogPath(), 8000) }

// Stop kills the process group (SIGTERM, then SIGKILL after 3 s) and
// waits for it. Safe to call more than once.
func (k *Kamailio) Stop() {
	if k.d != nil {
		k.d.Stop()
	}
}

func token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
