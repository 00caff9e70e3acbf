package sip

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
)

// benchLeg is a callee that answers every offer at once with a WebRTC SDP.
type benchLeg struct{ call atomic.Pointer[gateway.Call] }

func (l *benchLeg) Kind() string       { return "bench" }
func (l *benchLeg) Caps() gateway.Caps { return gateway.Caps{} }
func (l *benchLeg) Deliver(ev gateway.Event) error {
	if _, ok := ev.(gateway.Offer); ok {
		go func() { _ = l.call.Load().Post(l, gateway.Answer{SDP: answerFor(nil)}) }()
	}
	return nil
}

type benchUsers struct{}

func (benchUsers) Dial(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	l := &benchLeg{}
	l.call.Store(req.Call)
	return l, nil
}

// BenchmarkInboundCallSetup measures one inbound SIP call (INVITE, 200,
// ACK, BYE) to a callee that answers at once, direct (a WebRTC offer) and
// anchored in a real rtpengine (a plain-RTP offer): setup-ms is INVITE to
// 200, cpu-us/call the CPU time of this process per call (gateway, SIP
// adapter and the sipgo UA that calls; the same UA work both ways),
// rtpengine-cpu-us/call rtpengine's own. No media flows. Benchmarks
// report, never assert:
//
//	go test -run '^$' -bench InboundCallSetup -benchtime 300x ./sip
func BenchmarkInboundCallSetup(b *testing.B) {
	b.Run("direct", func(b *testing.B) { benchInbound(b, nil) })
	b.Run("anchored", func(b *testing.B) { benchInbound(b, rtpenginetest.Start(b)) })
}

func benchInbound(b *testing.B, r *rtpenginetest.Rtpengine) {
	log := slog.New(slog.DiscardHandler)
	gm := gateway.NewMetrics(prometheus.NewRegistry())
	router := gateway.NewRouter()
	router.Handle(gateway.SchemeUser, benchUsers{})
	gw := gateway.New(gateway.Config{MaxCallsPerUser: 1 << 20}, router, log, gm)
	cfg := Config{Listen: "127.0.0.1:0", TrustedSources: []string{"127.0.0.1"}, CallsPerSecond: 1e6,
		CallsBurst: 1 << 20, MaxCallsPerUser: 1 << 20}
	offer := webrtcSDP("actpass", "call", 40010)
	if r != nil {
		cfg.RTPEngine = RTPEngineConfig{NG: []string{r.NG}}
		offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			"m=audio 40020 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
			"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
	}
	a, err := New(cfg, gw, log, gm, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("bench"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	dlg := sipgo.NewDialogClientCache(cli, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "bench", Host: "127.0.0.1"}})
	target := sip.Uri{}
	if err := sip.ParseUri("sip:answer@"+a.Addr(), &target); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var setup time.Duration
	cpu0, rtpe0 := cpuTime(os.Getpid()), rtpeCPU(r)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		sess, err := dlg.Invite(ctx, target, []byte(offer), sip.NewHeader("Content-Type", "application/sdp"))
		if err != nil {
			b.Fatal(err)
		}
		if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
			b.Fatalf("call %d: %v", i, err)
		}
		setup += time.Since(start)
		if r != nil && !strings.Contains(string(sess.InviteResponse.Body()), "RTP/AVP") {
			b.Fatalf("anchored answer is not plain RTP:\n%s", sess.InviteResponse.Body())
		}
		if err := sess.Ack(ctx); err != nil {
			b.Fatal(err)
		}
		if err := sess.Bye(ctx); err != nil {
			b.Fatal(err)
		}
		_ = sess.Close()
	}
	b.StopTimer()
	deadline := time.Now().Add(5 * time.Second)
	for a.LiveDialogs() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(setup.Microseconds())/1000/float64(b.N), "setup-ms")
	b.ReportMetric(float64((cpuTime(os.Getpid())-cpu0).Microseconds())/float64(b.N), "cpu-us/call")
	if r != nil {
		b.ReportMetric(float64((rtpeCPU(r)-rtpe0).Microseconds())/float64(b.N), "rtpengine-cpu-us/call")
		if left, _ := a.anchors.rtp.List(ctx, 10); len(left[r.NG]) != 0 {
			b.Errorf("rtpengine still holds %v", left[r.NG])
		}
	}
}

// cpuTime is the user+system CPU time of process pid (Linux /proc).
func cpuTime(pid int) time.Duration {
	if pid == os.Getpid() {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

func rtpeCPU(r *rtpenginetest.Rtpengine) time.Duration {
	if r == nil {
		return 0
	}
	return cpuTime(r.PID())
}
