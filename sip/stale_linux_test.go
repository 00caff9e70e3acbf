package sip

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

	"github.com/sigbridge/sigbridge/gateway"
)

// waitKernelStamps waits until datagrams to pc (a socket with
// SO_TIMESTAMPNS, see stampPackets) are stamped when they are queued, not
// when they are read: the first socket asking for timestamps switches them
// on kernel-wide from a work queue, which a loaded box runs late. A probe
// read after a pause tells: its stamp is older than the read only once
// stamping is on. The probes are read here, so the caller's reads never
// see them.
func waitKernelStamps(t *testing.T, pc net.PacketConn) {
	t.Helper()
	uc := pc.(*net.UDPConn)
	out, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf, oob := make([]byte, 64), make([]byte, 128)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := out.Write([]byte("probe")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		before := time.Now()
		_ = uc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, oobn, _, _, err := uc.ReadMsgUDP(buf, oob)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if at := receiveTime(oob[:oobn]); !at.IsZero() && at.Before(before) {
			_ = uc.SetReadDeadline(time.Time{})
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel never stamped a datagram when it was queued")
		}
	}
}

// TestStampedConnShedsFullQueue: once the socket's receive queue holds more
// than half its buffer, the reader sheds new INVITEs at once (503 with
// Retry-After from the reader itself, counted under socket_delay) though
// no datagram waited the shedding age; the other datagrams are read as
// ever. With the queue short again, an INVITE goes to sipgo.
func TestStampedConnShedsFullQueue(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if err := pc.(*net.UDPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	f := &staleFilter{max: time.Minute, log: slog.New(slog.DiscardHandler), m: gateway.NewMetrics(nil),
		shed: &socketShed{}, shedAge: 30 * time.Second, retryAfter: "5"}
	sc, err := stampPackets(pc, f)
	if err != nil {
		t.Fatalf("stampPackets: %v", err)
	}
	raw, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	send := func(s string) {
		if _, err := out.WriteTo([]byte(s), pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	invite := func(id string) string {
		return "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + out.LocalAddr().String() + ";branch=z9hG4bK" + id +
			"\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: " + id +
			"\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	}
	options := "OPTIONS sip:x SIP/2.0\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 20) + "\r\n"
	queued := 0
	for ; queued < 1000; queued++ { // fill the queue past half its buffer, one datagram at a time
		if info, ok := sockMeminfo(raw); !ok {
			t.Fatal("SO_MEMINFO failed")
		} else if halfFull(info) {
			break
		}
		send(options)
	}
	send(invite("full-1"))
	buf := make([]byte, 4096)
	for i := range queued {
		_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := sc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read %d of %d: %v", i, queued, err)
		}
		if !strings.HasPrefix(string(buf[:n]), "OPTIONS ") {
			t.Fatalf("read %q, want the queued OPTIONS", buf[:min(n, 40)])
		}
	}
	_ = out.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The INVITE behind them is answered by the reader: the next read
	// waits for it to be shed, then times out on an empty queue.
	_ = sc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := sc.ReadFrom(buf); err == nil {
		t.Fatalf("read %q, want the INVITE shed by the reader", buf[:min(n, 40)])
	}
	n, _, err := out.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer to the INVITE behind a full queue: %v", err)
	}
	if res := string(buf[:n]); !strings.HasPrefix(res, "SIP/2.0 503 ") || !strings.Contains(res, "\r\nRetry-After: 5\r\n") {
		t.Fatalf("answer %q, want 503 with Retry-After", res)
	}
	if v := testutil.ToFloat64(f.m.CallsShed.WithLabelValues("sip", signalSocketDelay)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 1", v)
	}
	for f.shed.active(time.Now()) {
		time.Sleep(10 * time.Millisecond)
	}
	send(invite("short-1"))
	_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := sc.ReadFrom(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "INVITE ") {
		t.Fatalf("INVITE with the queue short: read %q, %v; want it passed on", buf[:min(n, 40)], err)
	}
}

// TestQueueFillAllocs checks that a check of the receive queue's fill
// allocates nothing: its getsockopt callback was a closure made, with its
// captured results, at every check.
func TestQueueFillAllocs(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	raw, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	q := &queueFill{raw: raw}
	if q.over(time.Now()) {
		t.Fatal("an empty queue is over half full")
	}
	if q.m.info[unix.SK_MEMINFO_RCVBUF] == 0 {
		t.Fatal("no SO_MEMINFO reading")
	}
	if n := testing.AllocsPerRun(100, func() { q.over(time.Unix(0, q.next)) }); n != 0 {
		t.Fatalf("queueFill.over allocates %v times", n)
	}
}
