//go:build linux

package ws

import (
	"encoding/json"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBrowserCall runs whole browser → browser calls between two raw
// WebSocket clients on loopback (MDN dialect): alice's video-offer and
// three candidates, bob's video-answer and three candidates, alice's
// hang-up; each side waits for what the other sent. Besides time and
// allocations (clients included, they are the same for every version of
// the gateway) it reports the process's CPU per call ("cpu-µs/call",
// getrusage: noisy on a shared box) and the goroutines started per call
// ("goroutines/call", runtime/metrics: the hand-offs a call costs; the
// clients start none). It reports, it asserts nothing about speed:
//
//	go test -run '^$' -bench BrowserCall -benchtime 3000x ./ws/
func BenchmarkBrowserCall(b *testing.B) {
	alice, bob := benchPair(b, "websocket")
	mk := func(v map[string]any) []byte {
		out, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	cand := func(target string) []byte {
		return mk(map[string]any{"type": "new-ice-candidate", "target": target, "candidate": map[string]any{
			"candidate": candLine, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "4oUU"}})
	}
	offer, answer, _ := benchMessages(b)
	toBob, toAlice := cand("bob"), cand("alice")
	hangup := mk(map[string]any{"type": "hang-up", "name": "alice", "target": "bob"})
	call := func() {
		alice.send(offer)
		for range 3 {
			alice.send(toBob)
		}
		bob.wait(typeVideoOffer)
		for range 3 {
			bob.wait(typeNewICECandidate)
		}
		bob.send(answer)
		for range 3 {
			bob.send(toAlice)
		}
		alice.wait(typeVideoAnswer)
		for range 3 {
			alice.wait(typeNewICECandidate)
		}
		alice.send(hangup)
		bob.wait(typeHangUp)
	}
	call() // the first call's stacks, pools and buffers
	sample := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	var ru0, ru1 syscall.Rusage
	b.ReportAllocs()
	b.ResetTimer()
	metrics.Read(sample)
	g0 := sample[0].Value.Uint64()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for range b.N {
		call()
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	metrics.Read(sample)
	b.StopTimer()
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
	b.ReportMetric(float64(sample[0].Value.Uint64()-g0)/float64(b.N), "goroutines/call")
}
