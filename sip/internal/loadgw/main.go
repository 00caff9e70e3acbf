// Command loadgw is the load harness of sip/README.md: a gateway with the
// SIP adapter and nothing else, whose browser users answer at once (their
// SDP is a fixed WebRTC answer), so SIPp measures the SIP side alone.
//
//	SIP -> browser: loadgw -listen 127.0.0.1:5060
//	  then: sipp -sf sip/testdata/sipp/uac_call.xml -s answer -r 200 -m 2000 127.0.0.1:5060
//	browser -> SIP: sipp -sf sip/testdata/sipp/uas_answer.xml -p 5080 (a SIPp UAS), then
//	  loadgw -listen 127.0.0.1:5070 -call sip:uas@127.0.0.1:5080 -rate 200 -n 2000
//
// With -call it places n calls at rate per second from in-process browser
// legs (each hangs up after -hold) and prints the setup figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	target := flag.String("call", "", "place calls to this SIP URI instead of only serving")
	rate := flag.Float64("rate", 100, "calls per second with -call")
	n := flag.Int("n", 1000, "number of calls with -call")
	hold := flag.Duration("hold", 300*time.Millisecond, "call duration with -call")
	probe := flag.Duration("probe", 0, "dialog probe interval (0: the adapter's default, negative: off)")
	flag.DurationVar(&maxQueueDelay, "max-queue-delay", 0, "gateway.max_queue_delay (0: the default, negative: off)")
	flag.IntVar(&udpReadBuffer, "udp-read-buffer", 0, "sip.udp_read_buffer in bytes (0: the default, negative: the kernel's)")
	flag.IntVar(&udpReaders, "udp-readers", 0, "sip.udp_readers (0: the default)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	reg := prometheus.NewRegistry()
	gw, a, err := start(ctx, *listen, *probe, log, reg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() { _ = a.Close() }()
	fmt.Printf("listening on %s\n", a.Addr())
	if *target == "" {
		<-ctx.Done()
		return
	}
	report(place(ctx, gw, *target, *rate, *n, *hold))
	reportProbes(reg)
}

// maxQueueDelay, udpReadBuffer and udpReaders are flags.
var (
	maxQueueDelay time.Duration
	udpReadBuffer int
	udpReaders    int
)

func start(ctx context.Context, listen string, probe time.Duration, log *slog.Logger,
	reg *prometheus.Registry) (*gateway.Gateway, *sip.Adapter, error) {
	router := gateway.NewRouter()
	gw := gateway.New(gateway.Config{MaxCallsPerUser: 1 << 20, MaxQueueDelay: maxQueueDelay}, router, log, nil)
	router.Handle(gateway.SchemeUser, gateway.DialerFunc(answeringUser))
	a, err := sip.New(sip.Config{Listen: listen, TrustedSources: []string{"127.0.0.1"},
		MaxCallsPerUser: 1 << 20, CallsPerSecond: 1e6, CallsBurst: 1 << 20,
		Routes:              []sip.Route{{Name: "loopback", Prefix: "sip:", AllowPrivate: true}},
		DialogProbeInterval: probe, UDPReadBuffer: udpReadBuffer, UDPReaders: udpReaders}, gw, log, nil, reg)
	if err != nil {
		return nil, nil, err
	}
	return gw, a, a.Start(ctx)
}

// answerSDP is a complete WebRTC answer for the offers of the SIPp scenarios.
var answerSDP = strings.Join([]string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
	"m=audio 40000 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 127.0.0.1", "a=ice-ufrag:load", "a=ice-pwd:loadloadloadloadloadload",
	"a=fingerprint:sha-256 3C:2E:D8:EC:35:7C:BF:01:07:A6:ED:92:3F:DA:28:66:F3:90:7A:77:D8:63:D9:FD:FD:D9:ED:74:7B:F3:3F:4A",
	"a=setup:active", "a=mid:0", "a=rtcp-mux", "a=sendrecv", "a=rtpmap:111 opus/48000/2",
	"a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", "a=end-of-candidates", ""}, "\r\n")

func mustSDP(s string) *sdp.SessionDescription {
	sd, err := gateway.ParseSDP(s)
	if err != nil {
		panic(err)
	}
	return sd
}

// leg is an in-process browser leg.
type leg struct {
	call     atomic.Pointer[gateway.Call]
	answered chan struct{}
	ended    chan struct{}
	once     sync.Once
	endOnce  sync.Once
	answerer bool
}

func newLeg(answerer bool) *leg {
	return &leg{answered: make(chan struct{}), ended: make(chan struct{}), answerer: answerer}
}

func (l *leg) Kind() string       { return "load" }
func (l *leg) Caps() gateway.Caps { return gateway.Caps{} }
func (l *leg) Deliver(ev gateway.Event) error {
	switch ev.(type) {
	case gateway.Offer:
		if l.answerer {
			go func() { _ = l.call.Load().Post(l, gateway.Answer{SDP: mustSDP(answerSDP)}) }()
		}
	case gateway.Answer:
		l.once.Do(func() { close(l.answered) })
	case gateway.Hangup:
		l.endOnce.Do(func() { close(l.ended) })
	}
	return nil
}

func answeringUser(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	l := newLeg(true)
	l.call.Store(req.Call)
	return l, nil
}

type result struct {
	ok, failed int
	dropped    int // answered calls that ended before their hold time
	setups     []time.Duration
	elapsed    time.Duration
}

// place makes n calls at rate per second and waits for them to end.
func place(ctx context.Context, gw *gateway.Gateway, target string, rate float64, n int, hold time.Duration) result {
	offer := mustSDP(strings.Replace(strings.Replace(answerSDP, "setup:active", "setup:actpass", 1), "ufrag:load", "ufrag:brws", 1))
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := oneCall(ctx, gw, fmt.Sprintf("load%d", i), target, offer, hold)
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, errDropped) {
				res.dropped++
			}
			if err != nil {
				res.failed++
				return
			}
			res.ok++
			res.setups = append(res.setups, d)
		}(i)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func oneCall(ctx context.Context, gw *gateway.Gateway, from, target string, offer *sdp.SessionDescription, hold time.Duration) (time.Duration, error) {
	l := newLeg(false)
	t0 := time.Now()
	call, err := gw.Place(ctx, gateway.PlaceRequest{Caller: l, From: from, Target: target, Offer: offer})
	if err != nil {
		return 0, err
	}
	l.call.Store(call)
	select {
	case <-l.answered:
	case <-l.ended:
		return 0, fmt.Errorf("not answered")
	case <-time.After(30 * time.Second):
		call.Hangup(gateway.ReasonInternal)
		return 0, fmt.Errorf("timeout")
	}
	setup := time.Since(t0)
	select {
	case <-time.After(hold):
	case <-l.ended:
		return setup, errDropped
	}
	_ = call.Post(l, gateway.Hangup{})
	<-call.Done()
	return setup, nil
}

// errDropped is a call the gateway ended during its hold time.
var errDropped = errors.New("ended by the gateway during the hold")

// reportProbes prints the dialog probe counts by result.
func reportProbes(reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		if mf.GetName() != "sigbridge_sip_dialog_probes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			fmt.Printf("dialog probes %s: %.0f\n", m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		}
	}
}

func report(r result) {
	sort.Slice(r.setups, func(i, j int) bool { return r.setups[i] < r.setups[j] })
	pct := func(p float64) time.Duration {
		if len(r.setups) == 0 {
			return 0
		}
		return r.setups[int(p*float64(len(r.setups)-1))]
	}
	fmt.Printf("calls: %d ok, %d failed (%d ended during the hold) in %v (%.1f calls/s)\n", r.ok, r.failed, r.dropped,
		r.elapsed.Round(time.Millisecond), float64(r.ok)/r.elapsed.Seconds())
	fmt.Printf("setup (Place -> answer): p50 %v, p90 %v, p99 %v, max %v\n",
		pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		pct(1).Round(time.Microsecond))
}
