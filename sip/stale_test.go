package sip

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
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
	pc, sc, f := stampedTestConn(t)
	// The first socket asking for timestamps switches them on kernel-wide
	// from a work queue; a datagram queued before that gets the time of
	// the read instead. Production only loses its first datagrams' times.
	// (A fixed 200 ms wait for it could be too short on a loaded box.)
	waitKernelStamps(t, pc)
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

// TestStatelessShed: while the receive queue is late, an initial INVITE is
// answered 503 with Retry-After by the reader itself (its Via, From, To with
// a new tag, Call-ID and CSeq copied); an in-dialog INVITE, another method,
// or an INVITE once the queue is on time again go to sipgo.
func TestStatelessShed(t *testing.T) {
	f := &staleFilter{max: time.Second, log: slog.New(slog.DiscardHandler), m: gateway.NewMetrics(nil),
		shed: &socketShed{}, shedAge: 250 * time.Millisecond, retryAfter: "5"}
	invite := "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\n" +
		"v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\n" +
		"To: <sip:bob@127.0.0.1>\r\nCall-ID: c1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	now := time.Now()
	if r := f.statelessShed([]byte(invite), now); r != nil {
		t.Fatalf("answered while the queue is on time: %q", r)
	}
	if f.shed.note(now) {
		t.Fatal("one late INVITE started shedding (a stall, not overload)")
	}
	if r := f.statelessShed([]byte(invite), now); r != nil {
		t.Fatalf("answered after one late INVITE: %q", r)
	}
	f.shed.onTime()
	if f.shed.note(now.Add(socketShedSustain)) {
		t.Fatal("shedding started though an INVITE on time came between")
	}
	if !f.shed.note(now.Add(2 * socketShedSustain)) {
		t.Fatal("INVITEs late for socketShedSustain did not start shedding")
	}
	now = now.Add(2 * socketShedSustain)
	res := string(f.statelessShed([]byte(invite), now))
	for _, want := range []string{"SIP/2.0 503 Service Unavailable\r\n",
		"\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n",
		"\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\n", "\r\nTo: <sip:bob@127.0.0.1>;tag=shed", "\r\nCall-ID: c1@127.0.0.1\r\n",
		"\r\nCSeq: 1 INVITE\r\n", "\r\nRetry-After: 5\r\n", "\r\nContent-Length: 0\r\n\r\n"} {
		if !strings.Contains(res, want) {
			t.Errorf("503 lacks %q:\n%s", want, res)
		}
	}
	if _, err := sip.ParseMessage([]byte(res)); err != nil {
		t.Errorf("sipgo cannot parse the 503: %v", err)
	}
	for name, msg := range map[string]string{
		"in dialog":   strings.Replace(invite, "To: <sip:bob@127.0.0.1>", "To: <sip:bob@127.0.0.1>;tag=b1", 1),
		"BYE":         strings.Replace(strings.Replace(invite, "INVITE sip", "BYE sip", 1), "1 INVITE", "1 BYE", 1),
		"folded":      strings.Replace(invite, "Max-Forwards: 70\r\n", "Max-Forwards:\r\n 70\r\n", 1),
		"no Via":      strings.Replace(strings.Replace(invite, "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\n", "", 1), "v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n", "", 1),
		"no body end": strings.TrimSuffix(invite, "\r\n\r\n"),
	} {
		if r := f.statelessShed([]byte(msg), now); r != nil {
			t.Errorf("%s: answered statelessly: %q", name, r)
		}
	}
	if v := testutil.ToFloat64(f.m.CallsShed.WithLabelValues("sip", signalSocketDelay)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 1", v)
	}
	// A retransmission of an INVITE sipgo already took goes to its
	// transaction, not to a 503 that would end an admitted call.
	f.taken = &inviteMemo{}
	f.taken.put("c1@127.0.0.1", inviteFate{cseq: 1}, now)
	if r := f.statelessShed([]byte(invite), now); r != nil {
		t.Errorf("retransmission of a taken INVITE answered statelessly: %q", r)
	}
	other := strings.Replace(invite, "Call-ID: c1@127.0.0.1", "i:  c2@127.0.0.1 ", 1)
	shed := string(f.statelessShed([]byte(other), now))
	if shed == "" {
		t.Fatal("a new INVITE was not shed while another Call-ID is taken")
	}
	// The reader remembers the INVITEs it passes on while not shedding.
	third := strings.Replace(invite, "Call-ID: c1@127.0.0.1", "CALL-ID: c3@127.0.0.1", 1)
	f.shed.onTime()
	f.shed.until.Store(0)
	if r := f.statelessShed([]byte(third), now); r != nil {
		t.Fatalf("answered while not shedding: %q", r)
	}
	if v, ok := f.taken.get("c3@127.0.0.1", now); !ok || v.shedTag != 0 {
		t.Fatal("an INVITE passed to sipgo was not remembered as passed")
	}
	// A retransmission of the INVITE shed before gets the same 503, with
	// the same To tag, though the queue is on time now: passed to sipgo it
	// would become a call its caller, which ended it on the 503, never ACKs.
	if again := string(f.statelessShed([]byte(other), now)); again != shed {
		t.Errorf("retransmission of a shed INVITE once on time: got %q, want the same 503 %q", again, shed)
	}
	f.shed.until.Store(now.Add(time.Second).UnixNano())
	if r := f.statelessShed([]byte(third), now); r != nil {
		t.Errorf("retransmission of an INVITE passed on before answered statelessly: %q", r)
	}
	if again := string(f.statelessShed([]byte(other), now)); again != shed {
		t.Errorf("retransmission of a shed INVITE while shedding: got %q, want the same 503 %q", again, shed)
	}
	if v := testutil.ToFloat64(f.m.CallsShed.WithLabelValues("sip", signalSocketDelay)); v != 2 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 2 (retransmissions are not new calls)", v)
	}
	// The caller retries after Retry-After with the same Call-ID, CSeq 2:
	// a new request, passed to sipgo once the queue is on time.
	f.shed.until.Store(0)
	retry := strings.Replace(other, "CSeq: 1 INVITE", "CSeq: 2 INVITE", 1)
	if r := f.statelessShed([]byte(retry), now); r != nil {
		t.Errorf("a retry (CSeq 2) of a shed INVITE once on time answered statelessly: %q", r)
	}
}

// TestInviteMemo: a Call-ID is remembered with its fate for one to two
// generations, decide agrees with itself, and a generation holds at most
// inviteMemoMax.
func TestInviteMemo(t *testing.T) {
	var m inviteMemo
	var tags atomic.Uint64
	t0 := time.Now()
	if tag, seen := m.decide([]byte("a"), 1, false, t0, &tags); tag != 0 || seen {
		t.Fatalf("new INVITE while on time: tag %d seen %v, want passed", tag, seen)
	}
	if tag, seen := m.decide([]byte("a"), 1, true, t0, &tags); tag != 0 || !seen {
		t.Fatalf("retransmission of a passed INVITE while shedding: tag %d seen %v, want passed again", tag, seen)
	}
	shedTag, seen := m.decide([]byte("s"), 1, true, t0, &tags)
	if shedTag == 0 || seen {
		t.Fatalf("new INVITE while shedding: tag %d seen %v, want shed", shedTag, seen)
	}
	if tag, seen := m.decide([]byte("s"), 1, false, t0, &tags); tag != shedTag || !seen {
		t.Fatalf("retransmission of a shed INVITE while on time: tag %d seen %v, want %d again", tag, seen, shedTag)
	}
	// A caller retrying after Retry-After with the same Call-ID and CSeq + 1
	// sends a new request: decided anew, not refused for the old one.
	if tag, seen := m.decide([]byte("s"), 2, false, t0, &tags); tag != 0 || seen {
		t.Fatalf("new INVITE (CSeq 2) reusing a shed Call-ID while on time: tag %d seen %v, want passed", tag, seen)
	}
	if tag, seen := m.decide([]byte("s"), 2, true, t0, &tags); tag != 0 || !seen {
		t.Fatalf("its retransmission while shedding: tag %d seen %v, want passed again", tag, seen)
	}
	for line, want := range map[string]uint32{"CSeq: 12 INVITE": 12, "CSeq:7 INVITE": 7, "CSeq: \t3 INVITE": 3, "CSeq: x": 0} {
		if got := cseqNumber([]byte(line)); got != want {
			t.Errorf("cseqNumber(%q) = %d, want %d", line, got, want)
		}
	}
	now := t0
	has := func(id string) bool { _, ok := m.get(id, now); return ok }
	if !has("a") || has("b") {
		t.Fatal("get after decide")
	}
	now = t0.Add(inviteMemoSpan)
	m.put("b", inviteFate{}, now) // a moves to the previous generation
	if !has("a") || !has("b") {
		t.Fatal("a Call-ID forgotten after one generation")
	}
	now = t0.Add(2 * inviteMemoSpan)
	m.put("c", inviteFate{}, now)
	if has("a") || !has("b") || !has("c") {
		t.Fatal("generations did not turn over")
	}
	for i := range inviteMemoMax + 10 {
		m.put(strconv.Itoa(i), inviteFate{}, now)
	}
	if n := m.passed.cur().n; n > inviteMemoMax/genParts {
		t.Fatalf("a generation holds %d Call-IDs, at most %d", n, inviteMemoMax/genParts)
	}
}

// TestParseInviteHeadAllocs: reading an INVITE's Call-ID and To tag, which
// the UDP reader does for every INVITE, allocates nothing; only the Via
// lines of a 503 do.
func TestParseInviteHeadAllocs(t *testing.T) {
	invite := []byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" +
		"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>;TAG=b1\r\nCall-ID: c1@127.0.0.1\r\n" +
		"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	h, ok := parseInviteHead(invite, false)
	if !ok || !h.inDialog || string(h.callIDValue) != "c1@127.0.0.1" || h.via != nil {
		t.Fatalf("parsed %+v, %v", h, ok)
	}
	if n := testing.AllocsPerRun(100, func() { parseInviteHead(invite, false) }); n != 0 {
		t.Errorf("%v allocations per INVITE, want 0", n)
	}
	if h, ok := parseInviteHead(invite, true); !ok || len(h.via) != 1 {
		t.Errorf("with Via: %d lines, %v", len(h.via), ok)
	}
}

// stampedTestConn is a loopback UDP socket read through stampPackets with a
// 1 s stale limit; it is closed when the test ends.
func stampedTestConn(t *testing.T) (net.PacketConn, net.PacketConn, *staleFilter) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	f := &staleFilter{max: time.Second, log: slog.New(slog.DiscardHandler), m: gateway.NewMetrics(nil)}
	sc, err := stampPackets(pc, f)
	if err != nil {
		t.Fatalf("stampPackets: %v", err)
	}
	return pc, sc, f
}
