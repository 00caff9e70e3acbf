package ws

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// BenchmarkLoginStorm logs in users one after the other on socketless
// connections (the adapter's code from handle to the send queues) and
// reports what the directory makes the server send: bytes and messages
// queued to all clients per login, and the process CPU time per login
// (user+system, including the goroutines that empty the queues). Run it
// once per size:
//
//	go test -run '^$' -bench LoginStorm -benchtime 1x ./ws/
func BenchmarkLoginStorm(b *testing.B) {
	for _, run := range []struct {
		users int
		extra string // username fields
	}{{1000, ""}, {10000, ""}, {10000, `,"features":["user-events"]`}} {
		name := strconv.Itoa(run.users)
		if run.extra != "" {
			name += "-user-events"
		}
		b.Run(name, func(b *testing.B) {
			users := run.users
			for range b.N {
				st := loginStorm(b, users, Config{}, run.extra)
				b.ReportMetric(float64(st.bytes)/float64(users), "B/login")
				b.ReportMetric(float64(st.msgs)/float64(users), "msgs/login")
				b.ReportMetric(float64(st.cpu.Nanoseconds())/float64(users), "cpu-ns/login")
				b.ReportMetric(float64(st.dropped), "dropped")
			}
		})
	}
}

// stormStats is what a login storm made the server queue.
type stormStats struct {
	bytes, msgs int64
	dropped     int
	cpu         time.Duration
}

// loginStorm opens users socketless connections one after the other, each
// logging in at once (u0, u1, …; extra fields go into username), waits until the server has nothing left to send
// and returns what it queued.
func loginStorm(tb testing.TB, users int, cfg Config, extra string) stormStats {
	cfg.RatePerSecond, cfg.RateBurst, cfg.SendQueue = 1e9, 1<<30, 256
	if cfg.listInterval == 0 {
		cfg.listInterval = defaultListInterval
	}
	h := newHarness(tb, cfg, gateway.Config{})
	var bytes, msgs atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*conn, users)
	start := cpuTime()
	for i := range conns { // each user connects, then logs in
		conns[i] = countingConn(h.srv, &bytes, &msgs, &wg)
		conns[i].handle([]byte(`{"type":"username","name":"u` + strconv.Itoa(i) + `"` + extra + `}`))
	}
	settle(h.srv, conns)
	st := stormStats{cpu: cpuTime() - start, bytes: bytes.Load(), msgs: msgs.Load()}
	dropped := 0
	for _, c := range conns {
		if c.closing() {
			dropped++
		}
		h.srv.dir.remove(c)
		c.cancel() // stops its counting goroutine
	}
	wg.Wait()
	st.dropped = dropped
	return st
}

// countingConn is a connection without a socket whose queue is emptied
// by a goroutine that counts what it takes.
func countingConn(s *Server, bytes, msgs *atomic.Int64, wg *sync.WaitGroup) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, 1)
	c := &conn{s: s, ctx: ctx, cancel: cancel, log: s.log, limiter: newBucket(1e9, 1<<30, time.Now()),
		out: newOutQueue(s.cfg.SendQueue), done: make(chan struct{}), writerDone: make(chan struct{}),
		onWake: func() { wake(ready) }}
	c.id = s.dir.add(c)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ready:
				for {
					batch, _ := c.out.next(c.closing)
					if len(batch) == 0 {
						break
					}
					for _, b := range batch {
						bytes.Add(int64(len(b)))
						msgs.Add(1)
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return c
}

// settle waits until no user list is due and no connection has anything
// queued.
func settle(s *Server, conns []*conn) {
	for {
		s.dir.mu.Lock()
		busy := s.dir.lists.pending()
		s.dir.mu.Unlock()
		for _, c := range conns {
			if c.out.len() > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
