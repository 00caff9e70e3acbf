package main

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// restoreRuntime puts the collector settings back after a test changed them.
func restoreRuntime(t *testing.T) {
	t.Helper()
	pct := debug.SetGCPercent(-1)
	debug.SetGCPercent(pct)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	})
}

func gcSettings() (pct int, limit int64) {
	pct = debug.SetGCPercent(-1)
	debug.SetGCPercent(pct)
	return pct, debug.SetMemoryLimit(-1)
}

// unsetEnv removes key for the test (t.Setenv restores it afterwards).
func unsetEnv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

func loadYAML(t *testing.T, yaml string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadConfig(path)
}

// TestRuntimeConfig: runtime.gc_percent and runtime.memory_limit parse, a
// collector that is off needs a memory limit, and the default is Go's.
func TestRuntimeConfig(t *testing.T) {
	cfg, err := loadYAML(t, "runtime:\n  gc_percent: 300\n  memory_limit: 536870912\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Runtime.GCPercent != 300 || cfg.Runtime.MemoryLimit != 512<<20 {
		t.Errorf("runtime %+v, want gc_percent 300, memory_limit 512 MiB", cfg.Runtime)
	}
	if d := defaultConfig().Runtime; d.GCPercent != DefaultGCPercent || d.MemoryLimit != 0 || d.GCMinHeap != DefaultGCMinHeap ||
		d.GCMinInterval != DefaultGCMinInterval || d.GCMaxHeap != DefaultGCMaxHeap || d.HugeHeap != DefaultHugeHeap {
		t.Errorf("default runtime %+v", d)
	}
	if cfg, err := loadYAML(t, "runtime:\n  gc_min_interval: 2s\n  gc_max_heap: 134217728\n"); err != nil ||
		cfg.Runtime.GCMinInterval != 2*time.Second || cfg.Runtime.GCMaxHeap != 128<<20 {
		t.Errorf("gc_min_interval 2s, gc_max_heap 128 MiB: %+v, %v", cfg.Runtime, err)
	}
	if cfg, err := loadYAML(t, "runtime:\n  gc_min_interval: 0s\n  gc_max_heap: 0\n"); err != nil || cfg.Runtime.GCMinInterval != 0 {
		t.Errorf("gc_min_interval off: %+v, %v", cfg.Runtime, err)
	}
	if cfg, err := loadYAML(t, "runtime:\n  huge_heap: 0\n"); err != nil || cfg.Runtime.HugeHeap != 0 {
		t.Errorf("huge_heap off: %+v, %v", cfg.Runtime, err)
	}
	for v, want := range map[string]int{"2": 2, "elastic": -1, "go": 0} {
		cfg, err := loadYAML(t, "runtime:\n  procs: "+v+"\n")
		if n, perr := parseProcs(cfg.Runtime.Procs); err != nil || perr != nil || n != want {
			t.Errorf("procs %s: %+v, %v, %v", v, cfg.Runtime, err, perr)
		}
	}
	if n, _ := parseProcs(defaultConfig().Runtime.Procs); n != -1 {
		t.Errorf("default procs: %q, want elastic", defaultConfig().Runtime.Procs)
	}
	if cfg, err := loadYAML(t, "runtime:\n  gc_min_heap: 67108864\n"); err != nil || cfg.Runtime.GCMinHeap != 64<<20 {
		t.Errorf("gc_min_heap 64 MiB: %+v, %v", cfg.Runtime, err)
	}
	for _, bad := range []string{"runtime:\n  gc_percent: -1\n", "runtime:\n  memory_limit: -5\n", "runtime:\n  gc: 1\n",
		"runtime:\n  gc_min_heap: -1\n", "runtime:\n  gc_min_heap: 2199023255552\n",
		"runtime:\n  gc_min_interval: -1s\n", "runtime:\n  gc_min_interval: 2h\n", "runtime:\n  gc_max_heap: -1\n",
		"runtime:\n  huge_heap: -2097152\n", "runtime:\n  huge_heap: 1000000\n", "runtime:\n  huge_heap: 137438953472\n",
		"runtime:\n  procs: -1\n", "runtime:\n  procs: 1025\n", "runtime:\n  procs: 0\n", "runtime:\n  procs: some\n",
		"runtime:\n  gc_max_heap: 0\n"} { // the default interval with no ceiling
		if _, err := loadYAML(t, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := loadYAML(t, "runtime:\n  gc_percent: -1\n  memory_limit: 1073741824\n"); err != nil {
		t.Errorf("collector off with a memory limit: %v", err)
	}
}

// TestApplyRuntime: the configuration sets the collector unless GOGC or
// GOMEMLIMIT is set, and the values in effect are logged.
func TestApplyRuntime(t *testing.T) {
	restoreRuntime(t)
	unsetEnv(t, "GOGC")
	unsetEnv(t, "GOMEMLIMIT")
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))

	applyRuntime(RuntimeConfig{GCPercent: 250, MemoryLimit: 3 << 30}, log)
	if pct, limit := gcSettings(); pct != 250 || limit != 3<<30 {
		t.Errorf("gc_percent %d, memory_limit %d; want 250, %d", pct, limit, int64(3<<30))
	}
	if s := buf.String(); !strings.Contains(s, "gc_percent=250") || !strings.Contains(s, "memory_limit=3221225472") ||
		!strings.Contains(s, "huge_heap=none") {
		t.Errorf("log %q does not name the settings", s)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	applyRuntime(RuntimeConfig{}, log) // zero: Go's default, no limit
	if pct, limit := gcSettings(); pct != DefaultGCPercent || limit != math.MaxInt64 {
		t.Errorf("zero config: gc_percent %d, memory_limit %d", pct, limit)
	}

	t.Setenv("GOGC", "400")
	debug.SetGCPercent(400) // what the runtime read from GOGC at start
	buf.Reset()
	applyRuntime(RuntimeConfig{GCPercent: 150}, log)
	if pct, _ := gcSettings(); pct != 400 {
		t.Errorf("with GOGC=400 set: gc_percent %d, want 400 (the environment wins)", pct)
	}
	if !strings.Contains(buf.String(), "gc_percent_from=GOGC") {
		t.Errorf("log %q does not say GOGC set it", buf.String())
	}
}

// TestFloorPercent: the percentage whose heap goal reaches the floor, never
// below the configured one, and no higher than the one whose minimum heap
// alone is the floor.
func TestFloorPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live, scan uint64
		base, want        int
	}{
		{64 * mib, 16 * mib, 0, 100, 300},        // 16 + 16·3 = 64
		{64 * mib, 16 * mib, 16 * mib, 100, 150}, // 16 + 32·1.5 = 64
		{64 * mib, 15 * mib, 0, 100, 327},        // rounded up: 15 + 15·3.27 ≥ 64
		{64 * mib, 40 * mib, 0, 100, 100},        // 40·2 > 64: the configured percentage
		{64 * mib, 64 * mib, 0, 100, 100},        // live at the floor
		{64 * mib, 100 * mib, 0, 200, 200},       // live above the floor
		{64 * mib, 1 * mib, 0, 100, 1600},        // capped: 4 MiB·16 = 64 MiB, the floor
		{64 * mib, 0, 0, 100, 1600},              // nothing marked yet
		{64 * mib, 16 * mib, 0, 500, 500},        // the configured percentage is already higher
	} {
		got := floorPercent(c.floor, c.live, c.scan, c.base)
		if got != c.want {
			t.Errorf("floorPercent(floor %d MiB, live %d MiB, scan %d MiB, base %d) = %d, want %d",
				c.floor/mib, c.live/mib, c.scan/mib, c.base, got, c.want)
		}
		if got > c.base && c.live < c.floor { // the goal the runtime computes reaches the floor
			goal := max(c.live+(c.live+c.scan)*uint64(got)/100, defaultHeapMinimum*uint64(got)/100)
			if goal < c.floor {
				t.Errorf("%+v: goal %d below the floor %d", c, goal, c.floor)
			}
		}
	}
}

// TestFloorNow: with runtime.gc_min_interval the floor for the next cycle
// is the live heap plus one interval's allocation at the rate over the
// last rateWindow adjustments, an eighth above that, between the fixed
// floor and gc_max_heap, and it moves only when that figure leaves the
// band (above the floor, or under two thirds of it); without an interval,
// or before a rate is known, it is the fixed floor.
func TestFloorNow(t *testing.T) {
	const mib = 1 << 20
	t0 := time.Unix(1000, 0)
	f := &gcFloor{floor: 64 * mib, interval: time.Second, maxHeap: 256 * mib}
	for i, c := range []struct {
		live, allocs uint64
		at           time.Duration
		want         uint64
	}{
		{24 * mib, 1000 * mib, 0, 64 * mib},                    // no rate yet
		{24 * mib, 1040 * mib, time.Second, 72 * mib},          // 40 MiB/s: 24 + 40, and an eighth
		{24 * mib, 1084 * mib, 2 * time.Second, 72 * mib},      // 42 MiB/s over two cycles: 66, in the band
		{28 * mib, 1120 * mib, 3 * time.Second, 72 * mib},      // 40 over three: 68, in the band
		{24 * mib, 1164 * mib, 4 * time.Second, 72 * mib},      // 41 over four: 65
		{24 * mib, 1224 * mib, 5 * time.Second, 72 * mib},      // one cycle of 60 (84 alone): 46 over the window, 70
		{24 * mib, 1340 * mib, 6 * time.Second, 99 * mib},      // 64 over the window: 88 > 72, raised to 88 + 11
		{24 * mib, 3740 * mib, 7 * time.Second, 256 * mib},     // 655 MiB/s: capped
		{24 * mib, 3741 * mib, 1004 * time.Second, 64 * mib},   // idle: 2.6 MiB/s, 26.6 < 2/3 · 256, the fixed floor
		{200 * mib, 9224 * mib, 1005 * time.Second, 234 * mib}, // large live heap: 200 + 8, and an eighth
		{24 * mib, 10 * mib, 1006 * time.Second, 234 * mib},    // counter went back: no rate, the last kept
		{24 * mib, 20 * mib, 1006 * time.Second, 234 * mib},    // no time passed: the same
		{24 * mib, 50 * mib, 1007 * time.Second, 72 * mib},     // 40 since the counter went back: 64 < 156, lowered
	} {
		if got := f.floorNow(c.live, c.allocs, t0.Add(c.at)); got != c.want {
			t.Errorf("step %d: floorNow(live %d MiB, allocs %d MiB, +%v) = %.1f MiB, want %d MiB",
				i, c.live/mib, c.allocs/mib, c.at, float64(got)/mib, c.want/mib)
		}
	}
	off := &gcFloor{floor: 64 * mib, maxHeap: 256 * mib}
	off.floorNow(25*mib, 0, t0)
	if got := off.floorNow(25*mib, 1000*mib, t0.Add(time.Second)); got != 64*mib {
		t.Errorf("no interval: floor %d, want the fixed 64 MiB", got)
	}
}

// TestGCRateFloor: with gc_min_interval and a process that allocates fast,
// the goal after collections is above both the fixed floor and GOGC's
// goal for this test's small live heap, and never above gc_max_heap.
func TestGCRateFloor(t *testing.T) {
	restoreRuntime(t)
	unsetEnv(t, "GOGC")
	unsetEnv(t, "GOMEMLIMIT")
	debug.SetMemoryLimit(math.MaxInt64)
	const floor, ceiling = 8 << 20, 192 << 20
	var buf bytes.Buffer
	f := applyRuntime(RuntimeConfig{GCPercent: 100, GCMinHeap: floor, GCMinInterval: time.Minute, GCMaxHeap: ceiling},
		slog.New(slog.NewTextHandler(&buf, nil)))
	if f == nil {
		t.Fatal("no floor started")
	}
	defer f.Stop()
	if !strings.Contains(buf.String(), "gc_min_interval=1m0s") || !strings.Contains(buf.String(), "gc_max_heap=201326592") {
		t.Errorf("log %q does not name the interval and the ceiling", buf.String())
	}
	// Allocate between forced collections: at any rate, a minute's worth
	// is far above 8 MiB, so the goal goes to the ceiling.
	var sink [][]byte
	n := f.adjusted.Load()
	for i := 0; f.adjusted.Load() < n+3; i++ {
		if i == 10000 {
			t.Fatalf("%d adjustments after %d collections, want 3", f.adjusted.Load()-n, i)
		}
		for range 64 {
			sink = append(sink, make([]byte, 16<<10))
		}
		sink = sink[:0]
		runtime.GC()
		runtime.Gosched()
	}
	if g := heapGoal(); g < ceiling*9/10 || g > ceiling+ceiling/10 {
		t.Errorf("heap goal %d MiB, want about the 192 MiB ceiling", g>>20)
	}
}

// heapGoal reads the runtime's heap goal.
func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestGCFloor: with runtime.gc_min_heap the heap goal after a collection is
// at least the floor (this test's heap is far smaller), the percentage in
// effect goes back when it stops, and the log names the floor.
func TestGCFloor(t *testing.T) {
	restoreRuntime(t)
	unsetEnv(t, "GOGC")
	unsetEnv(t, "GOMEMLIMIT")
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	debug.SetMemoryLimit(math.MaxInt64) // a limit would cap the goal under the floor
	const floor = 512 << 20
	f := applyRuntime(RuntimeConfig{GCPercent: 100, GCMinHeap: floor}, log)
	if f == nil {
		t.Fatal("no floor started")
	}
	if !strings.Contains(buf.String(), "gc_min_heap=536870912") {
		t.Errorf("log %q does not name the floor", buf.String())
	}
	// The goal is set at once from the heap as it is, and again after each
	// collection (the finalizer): both must reach the floor.
	if g := heapGoal(); g < floor {
		t.Errorf("heap goal %d right after start, want at least %d", g, floor)
	}
	n := f.adjusted.Load()
	for i := 0; f.adjusted.Load() < n+2; i++ {
		if i == 10000 {
			t.Fatalf("%d adjustments after %d collections, want 2", f.adjusted.Load()-n, i)
		}
		runtime.GC() // each cycle queues the sentinel's finalizer, which runs on its own goroutine
		runtime.Gosched()
	}
	if g := heapGoal(); g < floor {
		t.Errorf("heap goal %d after collections, want at least %d", g, floor)
	}
	if pct, _ := gcSettings(); pct <= 100 {
		t.Errorf("gc_percent %d with a small heap under a 512 MiB floor, want above 100", pct)
	}
	f.Stop()
	if pct, _ := gcSettings(); pct != 100 {
		t.Errorf("gc_percent %d after stop, want 100", pct)
	}
	runtime.GC()
	if g := heapGoal(); g >= floor {
		t.Errorf("heap goal %d after stop, want the floor gone", g)
	}

	// With the collector off (collections only near memory_limit) there is
	// no goal to hold up: no floor, and the log says so.
	buf.Reset()
	if f := applyRuntime(RuntimeConfig{GCPercent: -1, MemoryLimit: 1 << 30, GCMinHeap: floor}, log); f != nil {
		f.Stop()
		t.Error("a floor started with gc_percent -1")
	}
	if !strings.Contains(buf.String(), `gc_min_heap="off: gc_percent negative"`) {
		t.Errorf("log %q does not say the floor is off", buf.String())
	}
}
