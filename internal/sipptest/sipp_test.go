package sipptest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func scenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUACToUAS: a SIPp UAS is listening when StartT returns (over UDP and
// over TCP), a SIPp UAC's OPTIONS reaches it, and both exit 0.
func TestUACToUAS(t *testing.T) {
	for _, tr := range []string{"u1", "t1"} {
		t.Run(tr, func(t *testing.T) {
			uas := StartT(t, Options{Scenario: scenario(t, "uas_options.xml"), Dir: t.TempDir(), Host: "127.0.0.1",
				Transport: tr, Timeout: 20 * time.Second, TraceMessages: true})
			uac := StartT(t, Options{Scenario: scenario(t, "uac_options.xml"), Dir: t.TempDir(), Host: "127.0.0.1",
				Remote: uas.Addr, Transport: tr, Timeout: 20 * time.Second, TraceMessages: true})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for name, s := range map[string]*SIPp{"uac": uac, "uas": uas} {
				if err := s.Wait(ctx); err != nil {
					t.Fatalf("%s: %v\n%s", name, err, s.Logs())
				}
			}
			msgs, err := uas.MessageLog()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(msgs, "OPTIONS sip:") {
				t.Errorf("the UAS's trace holds no OPTIONS:\n%s", msgs)
			}
		})
	}
}

// TestUACFails: a UAC whose OPTIONS nobody answers exits with an error
// once its -timeout passes (-timeout_error), and Stop on an exited SIPp is
// harmless.
func TestUACFails(t *testing.T) {
	uac := StartT(t, Options{Scenario: scenario(t, "uac_options.xml"), Dir: t.TempDir(), Host: "127.0.0.1",
		Remote: "127.0.0.1:9", Timeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := uac.Wait(ctx); err == nil {
		t.Fatal("an unanswered UAC exited 0")
	}
	uac.Stop()
	if _, err := Start(context.Background(), Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("Start without a scenario succeeded")
	}
}

// TestUASPortTaken: a UAS whose SIP port is taken before SIPp binds it is
// seen to fail on the bind and started again (here on the same port,
// since the test fixes it: every attempt, each after a pause, fails and Start says so). The
// port is taken by a TCP socket bound but not listening, which the
// readiness probe does not mistake for SIPp's listener.
func TestUASPortTaken(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	_, err = Start(context.Background(), Options{Scenario: scenario(t, "uas_options.xml"), Dir: t.TempDir(),
		Host: "127.0.0.1", Port: sa.(*syscall.SockaddrInet4).Port, Transport: "t1", Timeout: 20 * time.Second,
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err == nil {
		t.Fatal("a UAS on a taken port started")
	}
	if n := strings.Count(log.String(), "starting it again"); n != fixedPortAttempts-1 {
		t.Errorf("%d restarts, want %d; log:\n%s\nerr: %v", n, fixedPortAttempts-1, log.String(), err)
	}
}

// TestUACPortTaken: a UAC, too, is seen to fail on a port taken before
// it bound it (its SIP port here, fixed by the test, so every attempt
// fails) and is started again, instead of returning at once and failing
// its calls.
func TestUACPortTaken(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var log bytes.Buffer
	_, err = Start(context.Background(), Options{Scenario: scenario(t, "uac_options.xml"), Dir: t.TempDir(),
		Host: "127.0.0.1", Port: c.LocalAddr().(*net.UDPAddr).Port, Remote: "127.0.0.1:9", Timeout: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err == nil {
		t.Fatal("a UAC on a taken port started")
	}
	if n := strings.Count(log.String(), "starting it again"); n != fixedPortAttempts-1 {
		t.Errorf("%d restarts, want %d; log:\n%s\nerr: %v", n, fixedPortAttempts-1, log.String(), err)
	}
}

// TestUASFixedPortFreedLater: a UAS whose given port is held when it starts
// and let go a moment later (the SIPp that had it, exiting; another test's
// probe) starts on it after a pause instead of failing.
func TestUASFixedPortFreedLater(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(fixedPortPause + fixedPortPause/2) // after the first start failed
		syscall.Close(fd)
	}()
	var log bytes.Buffer
	s, err := Start(context.Background(), Options{Scenario: scenario(t, "uas_options.xml"), Dir: t.TempDir(),
		Host: "127.0.0.1", Port: sa.(*syscall.SockaddrInet4).Port, Transport: "t1", Timeout: 20 * time.Second,
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	<-released
	if err != nil {
		t.Fatalf("a UAS on a port let go a moment later did not start: %v; log:\n%s", err, log.String())
	}
	defer s.Stop()
	if !strings.Contains(log.String(), "same_sip_port=true") {
		t.Errorf("no restart on the same port logged:\n%s", log.String())
	}
}
