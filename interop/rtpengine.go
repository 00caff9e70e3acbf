package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// rtpengineServer is an rtpengine media relay started by the harness for
// a local deployment: userspace forwarding (--table=-1, no kernel module),
// no config file, the ng control protocol on a free UDP port of 127.0.0.1
// and media ports from a range of 127.0.0.1. It follows
// internal/rtpenginetest's flags (that starter needs a testing.TB).
type rtpengineServer struct {
	NG     string // 127.0.0.1:port (UDP)
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *slog.Logger
}

// rtpengineMediaPorts is the size of the media port range.
const rtpengineMediaPorts = 400

// startRtpengine runs bin in dir and returns once it answers an ng ping.
func startRtpengine(ctx context.Context, bin, dir string, log *slog.Logger) (*rtpengineServer, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	lo, hi, err := mediaPortRange(rtpengineMediaPorts)
	if err != nil {
		return nil, err
	}
	r := &rtpengineServer{NG: "127.0.0.1:" + strconv.Itoa(port), dir: filepath.Join(dir, "rtpengine"),
		exited: make(chan struct{}), log: log}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("interop: rtpengine dir: %w", err)
	}
	out, err := os.Create(filepath.Join(r.dir, "rtpengine.log"))
	if err != nil {
		return nil, fmt.Errorf("interop: rtpengine log: %w", err)
	}
	defer out.Close()
	r.cmd = exec.Command(bin, "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
		"--interface=127.0.0.1", "--listen-ng="+r.NG, "--port-min="+strconv.Itoa(lo), "--port-max="+strconv.Itoa(hi),
		"--delete-delay=0", "--num-threads=2", "--media-num-threads=1", "--log-level=6",
		"--pidfile="+filepath.Join(r.dir, "rtpengine.pid"))
	r.cmd.Stdout, r.cmd.Stderr, r.cmd.Dir = out, out, r.dir
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start %s: %w", bin, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	for {
		if ngPing(r.NG, 300*time.Millisecond) == nil {
			log.Info("rtpengine up", "ng", r.NG, "media_ports", fmt.Sprintf("%d-%d", lo, hi))
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("interop: rtpengine exited at start (log: %s)", out.Name())
		case <-ctx.Done():
			r.Close()
			return nil, fmt.Errorf("interop: rtpengine did not answer an ng ping: %w (log: %s)", ctx.Err(), out.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops rtpengine's process group (SIGTERM, then SIGKILL after 3 s).
// A nil server is fine.
func (r *rtpengineServer) Close() {
	if r == nil || r.cmd == nil || r.cmd.Process == nil {
		return
	}
	pid := r.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-r.exited
	}
}

// ngPing sends an ng "ping" (a cookie and a bencoded dictionary over UDP)
// and waits for "pong".
func ngPing(addr string, wait time.Duration) error {
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	cookie := newToken()[:8]
	if _, err := conn.Write([]byte(cookie + " d7:command4:pinge")); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(buf[:n], []byte(cookie+" ")) || !bytes.Contains(buf[:n], []byte("pong")) {
		return errors.New("interop: no pong from rtpengine")
	}
	return nil
}

// mediaPortRange picks n consecutive UDP ports of 127.0.0.1 (a sample of
// them free just now) from a random even base in 10000-32767: below Linux's
// ephemeral range, so rtpengine never takes a port another starter (the
// gateway's, SIPp's, Prosody's) found free with ":0", as
// internal/rtpenginetest does.
func mediaPortRange(n int) (int, int, error) {
	for range 50 {
		base := (10000 + rand.IntN(32768-10000-n)) &^ 1
		free := true
		for p := base; p < base+n && free; p += 7 {
			c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				continue
			}
			_ = c.Close()
		}
		if free {
			return base, base + n - 1, nil
		}
	}
	return 0, 0, errors.New("interop: no free media port range for rtpengine")
}
