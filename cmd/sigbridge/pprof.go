package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// pprofEnv names the environment variable that opens Go's profiler
// (net/http/pprof) on its own listener, for performance work
// (docs/PERFORMANCE.md): SIGBRIDGE_PPROF=127.0.0.1:6060. It is not a
// configuration key on purpose: a profiler is never on by default and
// never on the public listener.
const pprofEnv = "SIGBRIDGE_PPROF"

// startPprof serves /debug/pprof/ on the address in SIGBRIDGE_PPROF, if
// set, until the process exits, and returns the address it listens on ("":
// off). A listen failure is logged, not fatal.
func startPprof(log *slog.Logger) string {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return ""
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("pprof listener", "addr", addr, "err", err)
		return ""
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Warn("profiler serving (SIGBRIDGE_PPROF)", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
	return ln.Addr().String()
}
