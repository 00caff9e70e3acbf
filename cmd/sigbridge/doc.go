// Command sigbridge runs the sigbridge signaling gateway.
//
// Usage:
//
//	sigbridge [serve] [--config FILE] [--http ADDR] [--log-level LEVEL] [--nats URLS --node NAME]
//	sigbridge version
//	sigbridge sdp2jingle | jingle2sdp   (SDP <-> Jingle on stdin/stdout)
//
// With no arguments it serves with embedded defaults: HTTP (the browser
// WebSocket dialect on /ws and /, the demo page on /, /metrics, /healthz,
// /readyz) on 127.0.0.1:8080, answering only the Hosts it serves (hosts.go).
// SIGTERM or SIGINT drains: new calls are refused (503), live calls get until
// shortly before the drain deadline and are then hung up; SIP BYEs, CANCELs
// and final answers complete before the exit.
//
// With cluster.nats (or --nats) the process is one node of a cluster
// (cluster.go): the browser directory is shared through package cluster's
// registry, other nodes' users are reached through remote legs, /readyz
// follows NATS and every metric has the label node.
//
// SIGBRIDGE_PPROF=host:port serves Go's profiler (/debug/pprof/) on a
// listener of its own, for performance work (pprof.go, docs/PERFORMANCE.md),
// in `serve` and in `load` (the load tool's own profile).
//
// runtime.gc_percent and runtime.memory_limit set Go's garbage collector at
// start (goruntime.go); GOGC and GOMEMLIMIT, when set, win.
// runtime.gc_min_heap keeps the collector's heap goal at or above a floor
// by raising GOGC after each collection while the live heap is small
// (gcfloor.go); runtime.gc_min_interval raises that floor under load to the
// live heap plus one interval's allocation at the rate over the last four
// collections (allocmarks.go), an eighth above and moved only when the load
// leaves that band, up to runtime.gc_max_heap, so that the collector runs
// about once per interval whatever the call rate.
// `sigbridge load` can keep a fixed floor for itself (--gc-min-heap; none
// by default: with 64 MiB the gateway beside it did worse).
// runtime.huge_heap (and load's --huge-heap) readies that much heap
// address space for transparent huge pages at start (internal/hugeheap),
// where the kernel gives them only on request. runtime.procs sets the
// processor count: "elastic" (the default), as few as the load needs and
// all of Go's count before the gateway's admission sheds a call
// (procs.go, gateway.Gateway.AddCapacity), Go's own count, or a fixed
// one; GOMAXPROCS, when set, wins.
//
// /metrics has sigbridge_sched_latency_seconds (schedhist.go): Go's
// scheduling latency in buckets fine enough for the 5 ms setup target.
//
// This is the only package that may exit the process.
package main
