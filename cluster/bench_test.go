package cluster

import (
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// BenchmarkCallSetup places calls from a user on node a to a user on the
// same node (local) or on node b (remote): the offer reaches the callee,
// its answer reaches the caller (setup), then the caller hangs up and the
// callee is told. Signaling only (no media). It reports the setup latency
// (mean and 0.9 quantile), calls per second, and what NATS carried per
// call (messages and payload bytes, both nodes' sends: dial, reply, call
// events; heartbeats excluded). "parallel" runs GOMAXPROCS*4 callers at
// once for the calls per second a node pair sustains.
func BenchmarkCallSetup(b *testing.B) {
	srv := natstest.Start(b)
	ns := startNodes(b, srv, "a", "b")
	sa, sb := newSite(b, ns[0]), newSite(b, ns[1])
	for _, bc := range []struct {
		name   string
		callee *site
	}{{"local", sa}, {"remote", sb}} {
		b.Run(bc.name, func(b *testing.B) { benchSetup(b, ns, sa, bc.callee, false) })
		b.Run(bc.name+"-parallel", func(b *testing.B) { benchSetup(b, ns, sa, bc.callee, true) })
	}
}

var benchUsers atomic.Int64

func benchSetup(b *testing.B, ns []*Node, caller, callee *site, parallel bool) {
	offer := readSDP(b, "chrome156_offer_audio_only.sdp")
	answer, err := gateway.ParseSDP(readSDP(b, "chrome156_answer_recvonly_gathered.sdp"))
	if err != nil {
		b.Fatal(err)
	}
	before := totalStats(ns)
	var setups []time.Duration
	var setupsMu = make(chan struct{}, 1)
	one := func(from, to string, legs chan *recLeg) {
		sd, _ := gateway.ParseSDP(offer)
		start := time.Now()
		cl := newRecLeg("caller")
		call, err := caller.gw.Place(b.Context(), gateway.PlaceRequest{Caller: cl, From: from, Target: to, Offer: sd})
		if err != nil {
			b.Error(err)
			return
		}
		cl.setCall(call)
		ce := <-legs
		next[gateway.Offer](b, ce)
		ce.post(b, gateway.Answer{SDP: answer})
		next[gateway.Answer](b, cl)
		d := time.Since(start)
		cl.post(b, gateway.Hangup{})
		next[gateway.Hangup](b, ce)
		<-call.Done()
		setupsMu <- struct{}{}
		setups = append(setups, d)
		<-setupsMu
	}
	newPair := func() (string, string, chan *recLeg) {
		id := benchUsers.Add(1)
		to := fmt.Sprintf("callee%d", id)
		legs := callee.login(b, to)
		waitFor(b, 5*time.Second, "caller's node sees "+to, func() bool {
			node, ok, _ := caller.n.Lookup(b.Context(), KindUser, to)
			return ok && node == callee.n.Name()
		})
		return fmt.Sprintf("caller%d", id), to, legs
	}
	b.ResetTimer()
	start := time.Now()
	if parallel {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			from, to, legs := newPair()
			for pb.Next() {
				one(from, to, legs)
			}
		})
	} else {
		from, to, legs := newPair()
		for range b.N {
			one(from, to, legs)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := totalStats(ns)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(after.CallMessages-before.CallMessages)/float64(b.N), "nats-msgs/call")
	b.ReportMetric(float64(after.CallBytes-before.CallBytes)/float64(b.N), "nats-bytes/call")
	if len(setups) > 0 {
		sort.Slice(setups, func(i, j int) bool { return setups[i] < setups[j] })
		var sum time.Duration
		for _, d := range setups {
			sum += d
		}
		b.ReportMetric(float64(sum.Microseconds())/float64(len(setups)), "setup-µs")
		b.ReportMetric(float64(setups[len(setups)*9/10].Microseconds()), "setup-p90-µs")
	}
}

func totalStats(ns []*Node) Stats {
	var s Stats
	for _, n := range ns {
		st := n.Stats()
		s.CallMessages += st.CallMessages
		s.CallBytes += st.CallBytes
	}
	return s
}

// BenchmarkClaim: a name claimed and released again (a login and a
// logout) on one node of two, as fast as the registry takes them; the
// other node's mirror follows. Reports claims per second.
func BenchmarkClaim(b *testing.B) {
	srv := natstest.Start(b)
	ns := startNodes(b, srv, "a", "b")
	b.SetParallelism(8) // a login storm: many connections claim at once
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("bench%d", benchUsers.Add(1))
		for pb.Next() {
			if err := ns[0].Claim(b.Context(), KindUser, key); err != nil {
				b.Error(err)
				return
			}
			ns[0].Release(KindUser, key)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "claims/s")
}
