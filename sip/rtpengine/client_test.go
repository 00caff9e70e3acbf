package rtpengine

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
)

// webrtcOffer is Chrome's audio offer with one host candidate added.
func webrtcOffer(t *testing.T) []byte {
	data, err := os.ReadFile("testdata/chrome156_offer_audio_only.sdp")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.Replace(s, "a=mid:0\n", "a=mid:0\na=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host\na=end-of-candidates\n", 1)
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

const plainAnswer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40100 RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n"

func newClient(t *testing.T, ng ...string) (*Client, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	c, err := New(Config{NG: ng, Timeout: 600 * time.Millisecond, Retransmit: 150 * time.Millisecond,
		PingInterval: 200 * time.Millisecond, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, m
}

func TestOfferAnswerQueryListDelete(t *testing.T) {
	r := rtpenginetest.Start(t)
	c, m := newClient(t, r.NG)
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	toSIP, err := c.Offer(ctx, "call-1", "ft", "", webrtcOffer(t), ToPlain())
	if err != nil {
		t.Fatalf("offer: %v\n%s", err, r.LogTail())
	}
	s := string(toSIP)
	for _, want := range []string{"RTP/AVP", "a=rtpmap:0 PCMU/8000", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(s, want) {
			t.Errorf("offer toward SIP lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"ice-ufrag", "fingerprint", "SAVPF", "a=candidate", "rtcp-mux"} {
		if strings.Contains(s, bad) {
			t.Errorf("offer toward SIP still has %q:\n%s", bad, s)
		}
	}
	toWeb, err := c.Answer(ctx, "call-1", "ft", "tt", []byte(plainAnswer), ToWebRTC())
	if err != nil {
		t.Fatalf("answer: %v\n%s", err, r.LogTail())
	}
	s = string(toWeb)
	for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=ice-ufrag", "a=fingerprint", "a=candidate", "a=rtcp-mux", "a=mid:0", "a=setup:"} {
		if !strings.Contains(s, want) {
			t.Errorf("answer toward WebRTC lacks %q:\n%s", want, s)
		}
	}
	q, err := c.Query(ctx, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if tags := q.Dict("tags"); tags["ft"] == nil || tags["tt"] == nil {
		t.Errorf("query tags %v lack ft and tt", q.Dict("tags"))
	}
	l, err := c.List(ctx, 100)
	if err != nil || !slices.Contains(l[r.NG], "call-1") {
		t.Fatalf("list = %v, %v; want call-1", l, err)
	}
	if err := c.Delete(ctx, "call-1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.List(ctx, 100); slices.Contains(l[r.NG], "call-1") {
		t.Fatalf("call-1 still listed after delete: %v", l)
	}
	if err := c.Delete(ctx, "call-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if n := testutil.CollectAndCount(m.Latency); n == 0 {
		t.Error("no latency observed")
	}
	if _, err := c.Query(ctx, "call-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("query after delete: %v, want ErrNotFound", err)
	}
	if v := testutil.ToFloat64(m.Errors.WithLabelValues("query", "refused")); v != 1 {
		t.Errorf("query refusals counted %v, want 1", v)
	}
}

func TestFailoverAndStickiness(t *testing.T) {
	a, b := rtpenginetest.Start(t), rtpenginetest.Start(t)
	c, m := newClient(t, a.NG, b.NG)
	ctx := context.Background()
	if _, err := c.Offer(ctx, "on-a", "ft", "", webrtcOffer(t), ToPlain()); err != nil {
		t.Fatal(err)
	}
	a.Kill()
	// A new call fails over to b, even before a ping noticed a is gone.
	if _, err := c.Offer(ctx, "on-b", "ft", "", webrtcOffer(t), ToPlain()); err != nil {
		t.Fatalf("offer with a down: %v", err)
	}
	l, _ := c.List(ctx, 10)
	if !slices.Contains(l[b.NG], "on-b") {
		t.Fatalf("on-b not on b: %v", l)
	}
	// The call that lives on a does not move to b.
	_, err := c.Answer(ctx, "on-a", "ft", "tt", []byte(plainAnswer), ToWebRTC())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("answer for a call on a dead instance: %v, want ErrUnavailable", err)
	}
	b.Kill()
	start := time.Now()
	if _, err := c.Offer(ctx, "none", "ft", "", webrtcOffer(t), ToPlain()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("offer with both down: %v, want ErrUnavailable", err)
	}
	t.Logf("offer with both down failed after %v", time.Since(start))
	if c.Healthy() {
		t.Error("Healthy with both down")
	}
	if v := testutil.ToFloat64(m.Errors.WithLabelValues("offer", "timeout")); v < 1 {
		t.Errorf("offer timeouts counted %v", v)
	}
	a.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for !c.Healthy() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !c.Healthy() {
		t.Fatal("health pings did not notice a restarted instance")
	}
	if _, err := c.Offer(ctx, "back", "ft", "", webrtcOffer(t), ToPlain()); err != nil {
		t.Fatalf("offer after restart: %v", err)
	}
}

func TestPlayDTMFRejectsBadDigit(t *testing.T) {
	r := rtpenginetest.Start(t)
	c, _ := newClient(t, r.NG)
	if err := c.PlayDTMF(context.Background(), "x", "ft", 'x', 100); err == nil {
		t.Fatal("digit x accepted")
	}
}
