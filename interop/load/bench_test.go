package load

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBrowserToBrowser places b.N browser → browser calls (callers
// and answering callees in this process, the gateway a subprocess) and
// reports the tool's own cost per call: allocations (-benchmem: the
// gateway's are not counted, it is another process) and CPU (user+sys
// from getrusage, "tool-µs/call"). The timer starts once every user is
// logged in. It reports, it asserts nothing about speed:
//
//	go test -run '^$' -bench BrowserToBrowser -benchmem -benchtime 3000x ./interop/load/
func BenchmarkBrowserToBrowser(b *testing.B) {
	ws := startGatewayYAML(b, "gateway:\n  max_calls_per_user: 32\nws:\n  rate_per_second: 1000\n  rate_burst: 2000\n  directory: none\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var ru0 syscall.Rusage
	o := Options{WS: ws, Users: 50, Rate: 500, Calls: b.N, Hold: 200 * time.Millisecond,
		Target: "callee-%d", Answer: true, MsgRate: 1000, MsgBurst: 2000, MaxCallsPerUser: 16,
		OnReady: func() {
			b.ReportAllocs()
			b.ResetTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		}}
	rep, err := Run(ctx, o, nil)
	b.StopTimer()
	if err != nil {
		b.Fatalf("load run: %v", err)
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if rep.Answered == 0 {
		b.Fatalf("no call answered: %+v", rep.Failures)
	}
	if rep.Failed > 0 || rep.NotPlaced > 0 {
		b.Logf("%d of %d failed %v, %d not placed (a busy box: compare answered/op)", rep.Failed, rep.Attempted, rep.Failures, rep.NotPlaced)
	}
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(cpu.Microseconds())/float64(rep.Answered), "tool-µs/call")
	b.ReportMetric(float64(rep.Answered)/float64(b.N), "answered/op")
}
