package sip

import (
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// rawClient sends hand-written SIP over UDP and reads what comes back.
type rawClient struct {
	conn *net.UDPConn
	to   *net.UDPAddr
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawClient{conn: conn, to: to}
}

func (c *rawClient) local() string { return c.conn.LocalAddr().String() }

func (c *rawClient) send(t *testing.T, msg string) {
	t.Helper()
	if _, err := c.conn.WriteToUDP([]byte(msg), c.to); err != nil {
		t.Fatal(err)
	}
}

// read returns the next SIP message within d, or nil.
func (c *rawClient) read(d time.Duration) sip.Message {
	buf := make([]byte, 65535)
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := c.conn.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	msg, err := sip.NewParser().ParseSIP(buf[:n])
	if err != nil {
		return nil
	}
	return msg
}

// readUntil returns the first message within 10 s that match accepts
// (failing the test if none comes); others are skipped.
func (c *rawClient) readUntil(t *testing.T, what string, match func(sip.Message) bool) sip.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := c.read(time.Until(deadline)); m != nil && match(m) {
			return m
		}
	}
	t.Fatalf("no %s within 10 s", what)
	return nil
}

// final returns the first final response within d (nil if none). A
// non-2xx final answer to an INVITE is ACKed, as a UAC does (RFC 3261
// §17.1.1.3), so the gateway's INVITE transaction completes.
func (c *rawClient) final(d time.Duration) *sip.Response {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		res, ok := c.read(time.Until(deadline)).(*sip.Response)
		if ok && res.StatusCode >= 200 {
			c.ackFailure(res)
			return res
		}
	}
	return nil
}

// ackFailure sends the ACK of a non-2xx final response to an INVITE.
func (c *rawClient) ackFailure(res *sip.Response) {
	cseq := res.CSeq()
	if res.StatusCode < 300 || cseq == nil || cseq.MethodName != sip.INVITE || res.Via() == nil ||
		res.To() == nil || res.From() == nil || res.CallID() == nil {
		return
	}
	ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"+
		"CSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		res.To().Address.String(), res.Via().Value(), res.From().Value(), res.To().Value(),
		res.CallID().Value(), cseq.SeqNo)
	_, _ = c.conn.WriteToUDP([]byte(ack), c.to)
}

// rawRequest builds a request from c to the gateway; extra headers are
// added verbatim, and replace the default of the same name when given as
// "Name: value" with a leading "!".
func (c *rawClient) rawRequest(method, ruri string, extra []string, body string) string {
	hdrs := []string{
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK%d", c.local(), time.Now().UnixNano()),
		"From: <sip:tester@127.0.0.1>;tag=t" + fmt.Sprint(time.Now().UnixNano()%100000),
		"To: <" + ruri + ">",
		fmt.Sprintf("Call-ID: raw-%d@127.0.0.1", time.Now().UnixNano()),
		"CSeq: 1 " + method,
		"Max-Forwards: 70",
		"Contact: <sip:tester@" + c.local() + ">",
	}
	for _, e := range extra {
		if strings.HasPrefix(e, "!") {
			name, _, _ := strings.Cut(e[1:], ":")
			hdrs = replaceHeader(hdrs, name, e[1:])
			continue
		}
		hdrs = append(hdrs, e)
	}
	hdrs = append(hdrs, fmt.Sprintf("Content-Length: %d", len(body)))
	return method + " " + ruri + " SIP/2.0\r\n" + strings.Join(hdrs, "\r\n") + "\r\n\r\n" + body
}

func replaceHeader(hdrs []string, name, line string) []string {
	for i, h := range hdrs {
		if strings.HasPrefix(h, name+":") {
			hdrs[i] = line
			return hdrs
		}
	}
	return append(hdrs, line)
}

// answeredCall has c call the test user "answer" through env's adapter
// with a WebRTC offer (From tag fromTag, Call-ID prefix-<time>): it returns
// the Call-ID, the callee's leg and the gateway's 200, not yet ACKed.
func (c *rawClient) answeredCall(t *testing.T, env *testEnv, prefix, fromTag string) (string, *testLeg, *sip.Response) {
	t.Helper()
	callID := fmt.Sprintf("%s-%d@127.0.0.1", prefix, time.Now().UnixNano())
	c.send(t, c.rawRequest("INVITE", "sip:answer@"+env.a.Addr(), []string{"Content-Type: application/sdp",
		"!From: <sip:alice@127.0.0.1>;tag=" + fromTag, "!Call-ID: " + callID}, webrtcSDP("actpass", "rawc", 30000)))
	callee := env.users.leg(t, "answer")
	ok := c.final(10 * time.Second)
	if ok == nil || ok.StatusCode != 200 {
		t.Fatalf("INVITE: got %v, want 200", ok)
	}
	return callID, callee, ok
}

// waitReleased waits, collecting garbage, until released is closed (a
// cleanup attached to what must no longer be referenced), for at most 10 s.
func waitReleased(t *testing.T, released <-chan struct{}, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-released:
			return
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				// Who might hold it: a goroutine blocked with it on its
				// stack, or a timer not stopped (seen once in CI, not
				// reproduced since).
				var b strings.Builder
				_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Logf("goroutines:\n%s", b.String())
				t.Fatalf("%s is still referenced 10 s after the ACK", what)
			}
		}
	}
}
