package sip

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/sipptest"
)

// BenchmarkOutboundCall measures one browser → SIP call on UDP, one at a
// time: the caller's offer, our INVITE to a SIPp UAS (100, 180, 200), our
// ACK, the caller's hang-up and our BYE with its 200. cpu-us/call is this
// process's CPU per call (gateway, SIP adapter, the test caller; SIPp is
// another process); allocs/op the Go allocations per call. Reports, never
// asserts:
//
//	go test -run '^$' -bench OutboundCall -benchmem -benchtime 2000x ./sip
func BenchmarkOutboundCall(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	gm := gateway.NewMetrics(prometheus.NewRegistry())
	router := gateway.NewRouter()
	gw := gateway.New(gateway.Config{MaxCallsPerUser: 1 << 20, GatherQuiet: time.Millisecond,
		GatherMax: 10 * time.Millisecond}, router, log, gm)
	a, err := New(Config{Listen: "127.0.0.1:0", Routes: []Route{loopbackRoute()}, CallsPerSecond: 1e6,
		CallsBurst: 1 << 20, MaxCallsPerUser: 1 << 20}, gw, log, gm, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", "uas_answer.xml"))
	if err != nil {
		b.Fatal(err)
	}
	uas := sipptest.StartT(b, sipptest.Options{Scenario: sf, Dir: b.TempDir(), Host: "127.0.0.1",
		Calls: 1 << 30, Timeout: time.Hour})
	offer := webrtcSDP("actpass", "alic", 30000)
	target := "sip:bob@" + uas.Addr
	ctx := context.Background()
	cpu0 := cpuTime(os.Getpid())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		caller := newTestLeg("alice")
		call, err := gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: "alice", Target: target,
			Offer: mustSDP(b, offer)})
		if err != nil {
			b.Fatal(err)
		}
		benchAnswer(b, caller)
		if err := call.Post(caller, gateway.Hangup{}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-call.Done():
		case <-time.After(10 * time.Second):
			b.Fatalf("call %d did not end", i)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(os.Getpid())-cpu0).Microseconds())/float64(b.N), "cpu-us/call")
	deadline := time.Now().Add(5 * time.Second)
	for a.LiveDialogs() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// benchAnswer waits for the callee's answer.
func benchAnswer(b *testing.B, l *testLeg) {
	b.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-l.events:
			switch ev.(type) {
			case gateway.Answer:
				return
			case gateway.Hangup:
				b.Fatalf("call failed: %+v", ev)
			}
		case <-timeout:
			b.Fatal("no answer")
		}
	}
}
