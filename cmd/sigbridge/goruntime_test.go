package main

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
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
	if d := defaultConfig().Runtime; d.GCPercent != DefaultGCPercent || d.MemoryLimit != 0 {
		t.Errorf("default runtime %+v", d)
	}
	for _, bad := range []string{"runtime:\n  gc_percent: -1\n", "runtime:\n  memory_limit: -5\n", "runtime:\n  gc: 1\n"} {
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
	if s := buf.String(); !strings.Contains(s, "gc_percent=250") || !strings.Contains(s, "memory_limit=3221225472") {
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
