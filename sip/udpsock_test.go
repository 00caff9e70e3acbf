package sip

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUDPSocketBuffers: after Start, the UDP listener's SO_RCVBUF and
// SO_SNDBUF are at least the configured sizes (the kernel doubles them;
// past net.core.rmem_max only with CAP_NET_ADMIN, which root has), the
// INFO line says what was granted, and the listener answers with two
// reader goroutines.
func TestUDPSocketBuffers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("socket buffer sizes are read back on Linux only")
	}
	rmemMax := procInt(t, "/proc/sys/net/core/rmem_max")
	want := 2 * rmemMax // above the cap: forced as root, capped otherwise
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := New(Config{Listen: "127.0.0.1:0", UDPReadBuffer: want, UDPReaders: 2}, nil, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })

	uc := udpListener(t, a)
	rd, err := sockBuffer(uc, false)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := sockBuffer(uc, true)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if rd < want {
			t.Errorf("SO_RCVBUF %d, configured %d (forced as root)", rd, want)
		}
	} else if rd < 2*rmemMax {
		t.Errorf("SO_RCVBUF %d, want the kernel's cap 2×%d", rd, rmemMax)
	}
	if wr < DefaultUDPWriteBuffer && os.Geteuid() == 0 {
		t.Errorf("SO_SNDBUF %d, default %d", wr, DefaultUDPWriteBuffer)
	}
	line := logs.line("SIP UDP socket buffers")
	for _, kv := range []string{"read_requested=" + strconv.Itoa(want), "read_granted=" + strconv.Itoa(rd),
		"write_requested=" + strconv.Itoa(DefaultUDPWriteBuffer), "write_granted=" + strconv.Itoa(wr), "readers=2"} {
		if !strings.Contains(line, kv) {
			t.Errorf("log line %q lacks %s", line, kv)
		}
	}
	if os.Geteuid() == 0 && !strings.Contains(line, "read_forced=true") {
		t.Errorf("log line %q: a request above rmem_max is forced as root", line)
	}

	// Both readers serve at once (-race watches them): OPTIONS sent
	// together from several sources are all answered.
	clients := make([]*rawClient, 32)
	for i := range clients {
		clients[i] = dialRaw(t, a.Addr())
	}
	for _, c := range clients {
		c.send(t, c.rawRequest("OPTIONS", "sip:gw@"+a.Addr(), nil, ""))
	}
	for i, c := range clients {
		if res := c.final(5 * time.Second); res == nil {
			t.Errorf("OPTIONS %d: no answer", i)
		}
	}
}

// TestUDPSocketDefaults: with no keys the kernel grants at least the
// defaults (4 MiB read, 1 MiB write) as root; negative leaves the kernel's.
func TestUDPSocketDefaults(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs Linux and root to exceed any rmem_max")
	}
	for _, tc := range []struct {
		cfg        Config
		minRd, max int
	}{
		{Config{}, DefaultUDPReadBuffer, 0},
		{Config{UDPReadBuffer: -1, UDPWriteBuffer: -1}, 0, 2 * procInt(t, "/proc/sys/net/core/rmem_default")},
	} {
		tc.cfg.Listen = "127.0.0.1:0"
		a, err := New(tc.cfg, nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		rd, err := sockBuffer(udpListener(t, a), false)
		_ = a.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rd < tc.minRd || (tc.max > 0 && rd > tc.max) {
			t.Errorf("%+v: SO_RCVBUF %d, want %d..%d", tc.cfg, rd, tc.minRd, tc.max)
		}
	}
}

// TestUDPSocketConfig: the bounds of the keys.
func TestUDPSocketConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{UDPReadBuffer: -1, UDPWriteBuffer: -1, UDPReaders: 4}, true},
		{Config{UDPReadBuffer: maxUDPBuffer}, true},
		{Config{UDPReadBuffer: maxUDPBuffer + 1}, false},
		{Config{UDPWriteBuffer: maxUDPBuffer + 1}, false},
		{Config{UDPReaders: -1}, false},
		{Config{UDPReaders: maxUDPReaders + 1}, false},
	} {
		a, err := New(tc.cfg, nil, nil, nil, nil)
		if tc.ok != (err == nil) {
			t.Errorf("%+v: err %v", tc.cfg, err)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v is not ErrConfig", tc.cfg, err)
		}
		if a != nil {
			_ = a.Close()
		}
	}
	c := Config{}.withDefaults()
	if c.UDPReadBuffer != DefaultUDPReadBuffer || c.UDPWriteBuffer != DefaultUDPWriteBuffer || c.UDPReaders != DefaultUDPReaders {
		t.Errorf("defaults %d %d %d", c.UDPReadBuffer, c.UDPWriteBuffer, c.UDPReaders)
	}
}

// udpListener is the adapter's UDP listening socket.
func udpListener(t *testing.T, a *Adapter) *net.UDPConn {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.listeners {
		if uc, ok := c.(*net.UDPConn); ok {
			return uc
		}
	}
	t.Fatal("no UDP listener")
	return nil
}

func procInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// line returns the first log line containing s ("" if none).
func (b *lockedBuffer) line(s string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range strings.Lines(b.buf.String()) {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
