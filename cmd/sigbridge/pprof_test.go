package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestPprofOnlyWhenAsked: without SIGBRIDGE_PPROF no profiler listens; with
// it, /debug/pprof/ answers on its own address.
func TestPprofOnlyWhenAsked(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Setenv(pprofEnv, "")
	if addr := startPprof(log); addr != "" {
		t.Fatalf("profiler listening on %s without %s", addr, pprofEnv)
	}
	t.Setenv(pprofEnv, "127.0.0.1:0")
	addr := startPprof(log)
	if addr == "" {
		t.Fatal("no profiler listener")
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("GET /debug/pprof/: %d %.200s", res.StatusCode, body)
	}
}
