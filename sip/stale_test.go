package sip

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestStaleFilterOnlyOldInvites(t *testing.T) {
	f := &staleFilter{max: time.Second, log: slog.New(slog.DiscardHandler), m: gateway.NewMetrics(nil)}
	now := time.Now()
	old := now.Add(-3 * time.Second)
	for _, c := range []struct {
		data string
		recv time.Time
		want bool
	}{
		{"INVITE sip:a@b SIP/2.0\r\n", old, true},
		{"INVITE sip:a@b SIP/2.0\r\n", now.Add(-500 * time.Millisecond), false},
		{"INVITE sip:a@b SIP/2.0\r\n", time.Time{}, false}, // no kernel time
		{"ACK sip:a@b SIP/2.0\r\n", old, false},
		{"BYE sip:a@b SIP/2.0\r\n", old, false},
		{"SIP/2.0 200 OK\r\n", old, false},
	} {
		if got := f.stale([]byte(c.data), c.recv, now); got != c.want {
			t.Errorf("%q received %v ago: stale %v, want %v", strings.Fields(c.data)[0], now.Sub(c.recv), got, c.want)
		}
	}
	if v := testutil.ToFloat64(f.m.CallsShed.WithLabelValues("sip", signalSocketDelay)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 1", v)
	}
}

// TestStampedConnDropsQueuedInvite: an INVITE left 1.5 s in the socket's
// receive queue is skipped by ReadFrom; the OPTIONS and the fresh INVITE
// sent after it are read.
func TestStampedConnDropsQueuedInvite(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	f := &staleFilter{max: time.Second, log: slog.New(slog.DiscardHandler), m: gateway.NewMetrics(nil)}
	sc, err := stampPackets(pc, f)
	if err != nil {
		t.Fatalf("stampPackets: %v", err)
	}
	// The first socket asking for timestamps switches them on kernel-wide
	// from a work queue; a datagram queued before that gets the time of
	// the read instead. Production only loses its first datagrams' times.
	time.Sleep(200 * time.Millisecond)
	out, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	send := func(s string) {
		if _, err := out.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send("INVITE sip:stale@x SIP/2.0\r\n\r\n")
	time.Sleep(1500 * time.Millisecond)
	send("OPTIONS sip:x SIP/2.0\r\n\r\n")
	send("INVITE sip:fresh@x SIP/2.0\r\n\r\n")
	buf := make([]byte, 2048)
	for _, want := range []string{"OPTIONS sip:x", "INVITE sip:fresh@x"} {
		_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, addr, err := sc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if addr == nil || !strings.HasPrefix(string(buf[:n]), want) {
			t.Fatalf("read %q from %v, want %q", buf[:n], addr, want)
		}
	}
	if v := testutil.ToFloat64(f.m.CallsShed.WithLabelValues("sip", signalSocketDelay)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 1", v)
	}
}
