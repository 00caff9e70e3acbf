package ws

import (
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
)

// TestMemoryReturnsAfterClose opens 2,000 connections (each logs in), closes
// them, three times, and checks that the heap returns near where it
// started: the live heap (nothing a connection allocates may outlive it)
// and the heap memory the process holds from the operating system (the
// RSS must not stay at the peak).
func TestMemoryReturnsAfterClose(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 6,000 connections")
	}
	const conns, rounds = 2000, 3
	// Not newHarness: its log buffer would grow with every connection.
	gw := gateway.New(gateway.Config{}, gateway.NewRouter(), discardLog(), nil)
	srv := NewServer(Config{}, gw, discardLog(), nil)
	hs := httptest.NewServer(srv.Handler())
	h := &harness{t: t, gw: gw, srv: srv, hs: hs, logs: &syncBuffer{}}
	t.Cleanup(h.close)
	round := func() {
		clients := make([]*websocket.Conn, conns)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range clients {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, _, err := websocket.DefaultDialer.Dial(h.url("/ws"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				name := "u" + strconv.Itoa(i) // the same users come back
				if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"username","name":"`+name+`"}`)); err != nil {
					t.Error(err)
				}
				clients[i] = c
				go func() { // read like a page does, until closed
					for {
						if _, _, err := c.NextReader(); err != nil {
							return
						}
					}
				}()
			}()
		}
		wg.Wait()
		waitFor(t, "logins", func() bool { return len(h.srv.dir.online()) == conns })
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
		waitFor(t, "connections gone", func() bool { return h.srv.dir.count() == 0 })
	}
	// live: the heap in use after a collection; held: the heap memory the
	// process keeps from the operating system (what its RSS shows).
	measure := func() (live, held uint64) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC() // sync.Pool keeps its objects for one collection
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, ms.HeapSys - ms.HeapReleased
	}
	near := func(got, start uint64) bool { return got <= start+start/2+2<<20 }
	_, startHeld := measure()
	round() // warm up: what stays by design (the names seen, for 480 vs 404; the metrics' labels)
	startLive, _ := measure()
	for r := range rounds {
		round()
		live, held := measure()
		// The memory goes back to the system a moment after the burst.
		for deadline := time.Now().Add(releaseEvery + 2*releaseSettle); !near(held, startHeld) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			live, held = measure()
		}
		t.Logf("round %d: live heap %d KiB (start %d KiB), held from the OS %d KiB (start %d KiB)",
			r, live>>10, startLive>>10, held>>10, startHeld>>10)
		if !near(live, startLive) {
			t.Errorf("round %d: live heap %d KiB after closing, started at %d KiB", r, live>>10, startLive>>10)
		}
		if !near(held, startHeld) {
			t.Errorf("round %d: %d KiB of heap held from the OS after closing, started at %d KiB", r, held>>10, startHeld>>10)
		}
	}
}
