package gateway

import (
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMessageCounts: every Message call counts under its own label set,
// from many goroutines at once, and the registry exports what was counted.
func TestMessageCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m.Message("ws", "in", fmt.Sprintf("type-%d", i%5))
				m.Message("sip", "out", "INVITE")
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 5; i++ {
		if v := testutil.ToFloat64(m.Messages.WithLabelValues("ws", "in", fmt.Sprintf("type-%d", i))); v != workers*each/5 {
			t.Errorf("ws in type-%d: %v, want %d", i, v, workers*each/5)
		}
	}
	if v := testutil.ToFloat64(m.Messages.WithLabelValues("sip", "out", "INVITE")); v != workers*each {
		t.Errorf("sip out INVITE: %v, want %d", v, workers*each)
	}
	if n := testutil.CollectAndCount(reg, "sigbridge_messages_total"); n != 6 {
		t.Errorf("%d label sets exported, want 6", n)
	}
	var nilMetrics *Metrics
	nilMetrics.Message("ws", "in", "x") // records nothing, does not panic
}

// BenchmarkMessage is the cost of counting one signaling message:
//
//	go test -run '^$' -bench Message -benchmem ./gateway
func BenchmarkMessage(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Message("ws", "in", "new-ice-candidate")
		}
	})
}
