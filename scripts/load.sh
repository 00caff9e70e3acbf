#!/usr/bin/env bash
# Load runs for docs/PERFORMANCE.md: the real gateway, SIPp and `sigbridge
# load`, all on this box (loopback), bounded. For every path and rate it
# starts a fresh gateway, runs one step, prints one table row and stops
# everything it started (by PID).
#
#   scripts/load.sh [paths...]      paths: b2s b2b s2b ref (default: all four), x2b xs2b
#
# Environment (defaults in brackets):
#   RATES ["250 500 1000"]  calls/s per step     DURATION [20]  seconds of placing per step
#   HOLD [1]  seconds a call is held               USERS [200]    caller users (and callees)
#   OUT [./load-results]  reports, SIPp stats and gateway logs
#   CAP [16]  calls in flight per caller user (the tool's --max-calls-per-user; the gateway's
#     per-user limits are twice it): with the 1 s hold, USERS × CAP bounds the rate (200 × 16: ~2,800/s)
#   BASE_PORT [18000]  the script uses BASE_PORT..BASE_PORT+4 on 127.0.0.1
#   SIGBRIDGE [built from this checkout]  SIPP [sipp on PATH]  SIGBRIDGE_ROOT [this checkout]
#   UAS_ERRORS [0]  1: the SIPp UAS logs every unexpected message to OUT/<step>.uas.err
#   UAC_ERRORS [0]  1: the SIPp UAC (s2b, ref) does the same to OUT/<step>.uac.err
#   PROCS [unset: the gateway's default]  the gateway's runtime.procs (go, elastic or a count)
#   LOG_LEVEL [info]  the gateway's log_level (debug: every message's fate, in OUT/<step>.gateway.log)
#   AFTER_RATE [unset]  b2s/b2b/s2b: 10 s after each step, the same gateway gets AFTER_RATE calls/s
#     for AFTER_DURATION [10] s more (row "b2s+10s"): do calls succeed again after an overload?
#     s2b steps end with a line checking that every call ended on both legs (s2b_ended).
#   SIP_SPLIT [0]  1 (b2s, s2b): tcpdump captures the gateway's SIP (b2s: and WebSocket) traffic during
#     the step (OUT/<step>.pcap, about 7 KB a b2s call) and scripts/sipsplit.py splits each call's setup at
#     the wire, in OUT/<step>.sip.txt: INVITE → 2xx (b2s: SIPp answering) and 2xx → ACK (b2s: the
#     gateway's reaction to the answer); b2s: offer → end-of-candidates (the tool), → INVITE (the
#     gateway), → 2xx (SIPp), → video-answer (the gateway). The gateway runs with GODEBUG=gctrace=1
#     and the slow 2xx → ACK times are binned by the time since its last GC start. Needs tcpdump and
#     python3.
# Needs: go, sipp (sip-tester), curl, jq.
#
# Paths: b2s browser → SIP (load tool callers, SIPp UAS), b2b browser →
# browser (load tool callers and --answer callees), s2b SIP → browser (SIPp
# UAC, load tool answer-only callees), ref SIPp UAC → SIPp UAS (no gateway).
# Row columns: path, offered calls/s, attempted, answered, failed / of
# which failed after the gateway admitted them (the rest were refused at
# once: shed, limits; browser rows only) (+ not placed), achieved calls/s, gateway CPU ms per answered call
# (b2s, b2b: and in brackets the load tool's own, user+sys over its whole run, also in OUT/<step>.txt), setup p50/p99
# (ms; SIPp rows: INVITE sent → 200 received, by SIPp), gateway RSS at the end (MiB),
# RSS Δ: the gateway's RSS at the end of placing minus at its middle
# (DURATION/2, AFTER_DURATION/2 for a browser "+10s" row; MiB; b2s b2b s2b: is RSS flat over the second half of a
# steady step?) and in brackets the same change by a line fitted through
# one sample a second over that half (rss_delta), SIP retransmissions seen by SIPp, and the gateway's Go
# allocation per answered call (KB and allocations, from /metrics: robust on
# a shared box).
# b2s/b2b: OUT/<step>.txt ends with a "tail:" line splitting the setup tail
# between the load tool and the gateway (tail_split).
#
# Across nodes (cluster/README.md, "What NATS costs per call"): a fresh
# nats-server -js and two nodes, A and B, per step; the callees log in on B
# (answer-only load tool), the callers reach node A and resolve the callees
# to node B through the cluster. x2b: load tool callers on A (browser →
# browser across nodes, compare with b2b); xs2b: SIPp UAC → node A's SIP
# (compare with s2b). Their rows give CPU ms per call and RSS of each node
# as A+B, KB/allocs summed over both, and four more columns: NATS messages
# and KB per call sent by both nodes (sigbridge_cluster_messages_total
# without heartbeats, sigbridge_cluster_bytes_total), nats-server's
# messages in/out per call (/varz; registry traffic included) and its CPU
# ms per call. Each node's /metrics and /varz at the end stay in OUT.
# They use BASE_PORT+5..+8 too, and NATS_SERVER [nats-server on PATH, else
# the version go.mod pins, built once into ~/.cache/sigbridge as
# internal/natstest does].
set -euo pipefail

ROOT=${SIGBRIDGE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
RATES=${RATES:-"250 500 1000"}
DURATION=${DURATION:-20}
HOLD=${HOLD:-1}
USERS=${USERS:-200}
OUT=${OUT:-$PWD/load-results}
BASE_PORT=${BASE_PORT:-18000}
SIPP=${SIPP:-$(command -v sipp || true)}
PATHS=${*:-"b2s b2b s2b ref"}
HTTP=127.0.0.1:$BASE_PORT
GW_SIP=$((BASE_PORT + 1)) UAS_PORT=$((BASE_PORT + 2)) UAC_PORT=$((BASE_PORT + 3)) CTL_PORT=$((BASE_PORT + 4))
HTTP_B=127.0.0.1:$((BASE_PORT + 5)) NATS_PORT=$((BASE_PORT + 6)) NATS_MON=127.0.0.1:$((BASE_PORT + 7)) GW_SIP_B=$((BASE_PORT + 8))
SCN=$ROOT/interop/load/testdata/sipp
CAP=${CAP:-16} # calls in flight per user: the load tool keeps within it
# gateway.max_calls_per_user and sip.max_calls_per_user are twice that: the
# gateway counts a call until its last leg has ended (a BYE answered), the
# tool frees its slot 100 ms after its hang-up, so under overload a cap equal
# to the tool's refused calls as "503 busy" that admission control never saw.
GWCAP=$((CAP * 2))
WSRATE=200 # ws.rate_per_second (burst 2×): a user places several calls per second
[ -n "$SIPP" ] || { echo "sipp not found: apt-get install sip-tester" >&2; exit 1; }
mkdir -p "$OUT"
if [ -z "${SIGBRIDGE:-}" ]; then
	SIGBRIDGE=$OUT/sigbridge
	(cd "$ROOT" && go build -o "$SIGBRIDGE" ./cmd/sigbridge)
fi

PIDS=()
cleanup() { local pid; for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
trap cleanup EXIT INT TERM

# gateway_config writes the load configuration: loopback, limits raised to
# match the load tool's flags, SIP to SIPp over UDP, directory off (200
# users would otherwise each get every login).
# With arguments: the file, HTTP address, SIP port and cluster node name of
# one node of the x paths.
gateway_config() { # [$1 file, $2 http, $3 sip port, $4 node]
	local file=${1:-$OUT/gateway.yaml} http=${2:-$HTTP} sip_port=${3:-$GW_SIP}
	{
		cat <<YAML
http: $http
log_level: ${LOG_LEVEL:-info}
drain_timeout: 5s
gateway:
  ring_timeout: 10s
  max_calls_per_user: $GWCAP
sip:
  listen: 127.0.0.1:$sip_port
  trusted_sources: ["127.0.0.1/32"]
  max_calls_per_user: $GWCAP
  calls_per_second: 100
  calls_burst: 200
  routes:
    - name: sipp
      match: '^sip:[^@]+@127\.0\.0\.1:$UAS_PORT\$'
      transport: udp
      allow_private: true
ws:
  rate_per_second: $WSRATE
  rate_burst: $((WSRATE * 2))
  directory: none
YAML
		[ -z "${4:-}" ] || printf 'cluster:\n  nats: [nats://127.0.0.1:%s]\n  node: %s\n' "$NATS_PORT" "$4"
		[ -z "${PROCS:-}" ] || printf 'runtime:\n  procs: %s\n' "$PROCS"
	} >"$file"
}

start_gateway() { # $1 = step name, [$2 = what SIP_SPLIT captures: a tcpdump filter]
	if [ "${SIP_SPLIT:-0}" = 1 ] && [ -n "${2:-}" ]; then
		GW_START=$(date +%s.%N) # gctrace's @ offsets count from here (within a few ms)
		GODEBUG=${GODEBUG:+$GODEBUG,}gctrace=1 start_sigbridge "$OUT/gateway.yaml" "$HTTP" "$OUT/$1.gateway.log"
		sip_capture "$1" "$2"
	else
		start_sigbridge "$OUT/gateway.yaml" "$HTTP" "$OUT/$1.gateway.log"
	fi
	GW_PID=$STARTED
}

# sip_capture starts tcpdump with filter $2 on loopback for step $1
# (SIP_SPLIT=1); sip_split stops it and splits the setups (sipsplit.py).
sip_capture() { # $1 = step name, $2 = capture filter
	tcpdump -i lo -s 1000 -B 262144 -w "$OUT/$1.pcap" "$2" >"$OUT/$1.tcpdump.log" 2>&1 &
	CAPTURE_PID=$!
	PIDS+=("$CAPTURE_PID")
	for _ in $(seq 50); do grep -q listening "$OUT/$1.tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}

sip_split() { # $1 = step name, [$2 = 1: the WebSocket side was captured]
	[ "${SIP_SPLIT:-0}" = 1 ] || return 0
	kill "$CAPTURE_PID" 2>/dev/null || true
	wait "$CAPTURE_PID" 2>/dev/null || true
	python3 "$ROOT/scripts/sipsplit.py" "$OUT/$1.pcap" ${2:+--ws-port "$BASE_PORT"} --gctrace "$OUT/$1.gateway.log" --start "$GW_START" >"$OUT/$1.sip.txt" 2>&1 || true
}

# start_sigbridge starts `sigbridge serve` and waits until /readyz (with a
# cluster: NATS reachable and the registry copied); STARTED is its PID.
start_sigbridge() { # $1 = config, $2 = http address, $3 = log
	"$SIGBRIDGE" serve --config "$1" >"$3" 2>&1 &
	STARTED=$!
	PIDS+=("$STARTED")
	for _ in $(seq 100); do
		curl -fs "http://$2/readyz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "gateway did not start; see $3" >&2
	exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# allocs prints the gateway's "bytes allocated, allocations" so far (Go runtime).
allocs() { # [$1 = http address]
	curl -fs "http://${1:-$HTTP}/metrics" | awk '$1 == "go_memstats_alloc_bytes_total" {b = $2}
		$1 == "go_memstats_mallocs_total" {m = $2} END {printf "%.0f %.0f\n", b, m}'
}
# per_call prints "KB/allocs" per call between allocs samples $1 and $2 for $3 calls.
per_call() {
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {split(a, x, " "); split(b, y, " ")
		if (n > 0) printf "%.1f/%.0f", (y[1] - x[1]) / n / 1000, (y[2] - x[2]) / n; else print "-"}'
}
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# rss_now sets RSS_NOW to process $1's RSS in KiB ("-" when gone) with
# shell builtins only: the sampler below runs beside the gateway during
# the step, and a process started once a second (awk, date, sleep: about
# seven) took CPU from the box in a burst each second, where the setup
# tail showed it (docs/PERFORMANCE.md, "Elastic by default").
rss_now() {
	local k v _
	RSS_NOW=-
	while read -r k v _; do
		[ "$k" = VmRSS: ] && RSS_NOW=$v && return
	done <"/proc/$1/status" 2>/dev/null || true
}

# nap sleeps $1 microseconds without starting a process: a read with a
# timeout on a pipe nobody writes to (the descriptor NAP_FD, opened once).
nap() {
	local us=$1 t
	((us > 0)) || return 0
	printf -v t '%d.%06d' $((us / 1000000)) $((us % 1000000))
	read -r -t "$t" -u "$NAP_FD" _ || true
}

# rss_sampler samples process $1's RSS (KiB) into file $2 at DURATION/2
# and at DURATION after placing began: at once, or (with $3) once file $3
# says the load tool's users "logged in"; and once a second over the second
# half into $2.all ("seconds KiB" lines), with builtins only (rss_now, nap).
# RSS_SAMPLER is its PID.
rss_sampler() { # $1 = pid, $2 = file, [$3 = progress file to wait for]
	rm -f "$2" "$2.all"
	(
		exec {NAP_FD}<> <(:)
		if [ -n "${3:-}" ]; then
			for _ in $(seq 600); do grep -q "logged in" "$3" 2>/dev/null && break; nap 100000; done
		fi
		local half=$((DURATION * 500000)) t0 now el
		nap "$half"
		rss_now "$1"
		echo "$RSS_NOW" >"$2"
		t0=${EPOCHREALTIME/./}
		while :; do # one sample a second, by the clock, until the half is over
			now=${EPOCHREALTIME/./}
			el=$((now - t0))
			((el < half - 500000)) || break
			rss_now "$1"
			printf '%d.%02d %s\n' $((el / 1000000)) $((el % 1000000 / 10000)) "$RSS_NOW" >>"$2.all"
			now=${EPOCHREALTIME/./}
			nap $((1000000 - (now - t0) % 1000000))
		done
		now=${EPOCHREALTIME/./}
		nap $((half - (now - t0)))
		rss_now "$1"
		echo "$RSS_NOW" >>"$2"
	) &
	RSS_SAMPLER=$!
	PIDS+=("$RSS_SAMPLER")
}

# rss_delta waits for the sampler and prints the change between its two
# samples in MiB ("+1.2"), or "-" when a sample is missing, and in brackets
# the change of the least-squares line through the per-second samples over
# the same half ("(+0.4)"): a single sample moves with the goroutine stacks
# of the calls in setup at that instant and with the scavenger (±15-25 MiB
# at 3,000 calls/s on a shared box; docs/PERFORMANCE.md, "The setup tail at
# half the maximum rate"), the line much less.
rss_delta() { # $1 = file
	wait "$RSS_SAMPLER" 2>/dev/null || true # (in $(...), not our child: then the loop below waits)
	local _
	for _ in $(seq 100); do [ -f "$1" ] && [ "$(wc -l <"$1")" = 2 ] && break; sleep 0.1; done
	awk 'NR == 1 {a = $1} NR == 2 {b = $1} END {if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%+.1f", (b - a) / 1024; else printf "-"}' \
		"$1" 2>/dev/null || printf -
	awk '$2 ~ /^[0-9]+$/ {n++; x += $1; y += $2; xx += $1 * $1; xy += $1 * $2; last = $1}
		END {d = n * xx - x * x; if (n >= 3 && d > 0) printf " (%+.1f)", (n * xy - x * y) / d * h / 1024}' h="$(awk -v d="$DURATION" 'BEGIN {print d / 2}')" "$1.all" 2>/dev/null || true
}

# sipp_uas runs SIPp answering on UAS_PORT over UDP until killed.
sipp_uas() { # $1 = step name
	local errs=()
	[ "${UAS_ERRORS:-0}" = 1 ] && errs=(-trace_err -error_file "$OUT/$1.uas.err")
	"$SIPP" -sf "$SCN/uas_answer.xml" -i 127.0.0.1 -p "$UAS_PORT" -t u1 -cp "$CTL_PORT" -aa -nostdin \
		-buff_size 4194304 -trace_stat -stf "$OUT/$1.uas.csv" -fd 1 "${errs[@]}" >"$OUT/$1.uas.out" 2>&1 &
	UAS_PID=$!
	PIDS+=("$UAS_PID")
	sleep 0.5
}

# sipp_uac places RATE calls/s for DURATION s toward $1 (host:port), callee
# field0 from $2's CSV, holding HOLD s; it exits when every call ended.
sipp_uac() { # $1 = remote, $2 = step name, $3 = rate, $4 = csv
	local total=$(($3 * DURATION)) errs=()
	[ "${UAC_ERRORS:-0}" = 1 ] && errs=(-trace_err -error_file "$OUT/$2.uac.err")
	mkdir -p "$OUT/$2.rtt"
	(cd "$OUT/$2.rtt" && "$SIPP" "$1" -sf "$SCN/uac_hold.xml" -inf "$4" -i 127.0.0.1 -p "$UAC_PORT" -t u1 \
		-cp "$((CTL_PORT + 1))" -r "$3" -m "$total" -l $(($3 * (HOLD + 10))) -d $((HOLD * 1000)) -aa -nostdin \
		-buff_size 4194304 -recv_timeout 10000 -timeout $((DURATION + HOLD + 60))s -trace_stat \
		-stf "$OUT/$2.uac.csv" -fd 1 -trace_rtt -rtt_freq 1 "${errs[@]}" >"$OUT/$2.uac.out" 2>&1) || true
}

# rtt_p50_p99 prints SIPp's INVITE → 200 times (ms) of step $1 as p50/p99.
rtt_p50_p99() {
	cat "$OUT/$1.rtt"/*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ {print $2}' | sort -n |
		awk '{v[NR] = $1} END {if (!NR) {print "-"; exit}; i = int(NR * 0.5 + 0.999999); j = int(NR * 0.99 + 0.999999); printf "%.1f/%.1f", v[i], v[j]}'
}

# sipp_col prints column $2 of the last row of SIPp stat file $1.
sipp_col() {
	awk -F';' -v c="$2" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == c) n = i} END {print (n ? $n : "?")}' "$1"
}

# tool_ms prints the load tool's CPU ms (user+sys) per answered call from
# the `times` output in file $1 (its second line: the children's) for $2
# answered calls, or "-".
tool_ms() { # $1 = times file, $2 = answered calls
	awk -v n="$2" 'NR == 2 {t = 0; for (i = 1; i <= 2; i++) {split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2]}
		if (n > 0) printf "%.2f", t * 1000 / n; else print "-"}' "$1" 2>/dev/null || echo -
}

# row prints a table row: path, rate, attempted, answered, failed, calls/s,
# CPU, setup, RSS, RSS Δ, retransmissions, KB/allocs (and the x columns).
row() {
	printf '| %-4s | %5s | %7s | %7s | %9s | %7s | %13s | %11s | %5s | %13s | %7s | %9s |' "${@:1:12}"
	[ -z "$XCOLS" ] || printf ' %8s | %7s | %10s | %6s |' "${13:--}" "${14:--}" "${15:--}" "${16:--}"
	echo
}

load_step() { # $1 = path, $2 = rate; browser callers through the load tool
	local name="$1-$2" capture=
	[ "$1" = b2s ] && capture="udp port $GW_SIP or tcp port $BASE_PORT" # SIP_SPLIT: both sides
	start_gateway "$name" "$capture"
	[ "$1" = b2s ] && sipp_uas "$name"
	load_run "$1" "$2" "$name" "$DURATION" "$1"
	if [ -n "${AFTER_RATE:-}" ]; then # the recovery check: normal rate 10 s after the step
		sleep 10
		load_run "$1" "$AFTER_RATE" "$name.after" "${AFTER_DURATION:-10}" "$1+10s"
	fi
	[ -n "$capture" ] && sip_split "$name" 1
	cleanup
}

# load_run runs the load tool once against the running gateway and prints
# its row. $1 path, $2 rate, $3 report name, $4 seconds, $5 row label.
load_run() {
	local target="sip:uas@127.0.0.1:$UAS_PORT" extra=()
	[ "$1" = b2b ] && target='callee-%d' && extra=(--answer)
	local c0 a0 r0=0 st="$OUT/${3%.after}.uas.csv"; c0=$(cpu_ticks "$GW_PID") a0=$(allocs)
	[ "$1" = b2s ] && [ -f "$st" ] && r0=$(sipp_col "$st" "Retransmissions(C)")
	DURATION=$4 rss_sampler "$GW_PID" "$OUT/$3.rss" "$OUT/$3.progress" # halves of this run (the after-run's too)
	( # a subshell of its own: `times` then gives the load tool's CPU (its only child)
		"$SIGBRIDGE" load --ws "ws://$HTTP/ws" --users "$USERS" --rate "$2" --duration "${4}s" \
			--hold "${HOLD}s" --target "$target" "${extra[@]}" --max-calls-per-user "$CAP" --ws-rate "$WSRATE" \
			--ws-burst $((WSRATE * 2)) --json "$OUT/$3.json" >"$OUT/$3.txt" 2>"$OUT/$3.progress" || true
		times >"$OUT/$3.times"
	)
	local cpu rss a1 drss tool; cpu=$(($(cpu_ticks "$GW_PID") - c0)); rss=$(rss_mib "$GW_PID") a1=$(allocs)
	tool=$(tool_ms "$OUT/$3.times" "$(jq -r .answered "$OUT/$3.json" 2>/dev/null || echo 0)")
	echo "load tool CPU (user+sys, whole run with logins and drain): $tool ms per answered call" >>"$OUT/$3.txt"
	drss=$(DURATION=$4 rss_delta "$OUT/$3.rss")
	curl -fs "http://$HTTP/metrics" >"$OUT/$3.metrics" || true # sigbridge_call_setup_seconds: the gateway's view
	local retrans=-
	if [ "$1" = b2s ]; then # SIPp's cumulative count, minus the step's for the recovery run
		retrans=$(sipp_col "$st" "Retransmissions(C)")
		[[ "$retrans$r0" =~ ^[0-9]+$ ]] && retrans=$((retrans - r0))
	fi
	jq -r --arg p "$5" --arg r "$2" --arg cpu "$cpu" --arg rss "$rss" --arg drss "$drss" --arg rt "$retrans" --arg d "$4" --arg a0 "$a0" --arg a1 "$a1" '
		[$p, $r, .attempted, .answered, "\(.failed)/\(.failed - (.refused // 0)) (+\(.not_placed))",
		 (.answered / ($d | tonumber) | floor | tostring),
		 (if .answered > 0 then (($cpu | tonumber) * 10 / .answered * 100 | round / 100 | tostring) else "-" end),
		 "\(.setup_ms.p50 * 10 | round / 10)/\(.setup_ms.p99 * 10 | round / 10)", $rss, $drss, $rt, .answered] | @tsv' "$OUT/$3.json" |
		while IFS=$'\t' read -r a b c d e f g h i dr j k; do
			row "$a" "$b" "$c" "$d" "$e" "$f" "$g ($tool)" "$h" "$i" "$dr" "$j" "$(per_call "$a0" "$a1" "$k")"
		done
	tail_split "$3" >>"$OUT/$3.txt"
}

# tail_split prints where step $1's setup tail is: the share of setups
# within 5 ms by the load tool (offer written → answer read) and by the
# gateway's own histogram (offer in → answer in), the gateway's GC cycles
# and goroutine scheduling latency (the p99 bucket of
# sigbridge_sched_latency_seconds) and the tool's GC cycles and scheduling latency, and the box's
# load average, and the gateway's Ps at the end with the elastic
# controller's changes by reason. Its own line in OUT/<step>.txt (docs/PERFORMANCE.md, "The
# setup tail at half the maximum rate").
tail_split() { # $1 = step name
	local gw procs
	gw=$(awk '/^sigbridge_call_setup_seconds_bucket/ && /le="0.005"/ {w += $2} /^sigbridge_call_setup_seconds_count/ {n += $2}
		/^go_gc_duration_seconds_count/ {gc = $2}
		/^sigbridge_sched_latency_seconds_bucket/ {match($0, /le="[^"]+"/); b[++k] = substr($0, RSTART + 4, RLENGTH - 5); c[k] = $2}
		/^sigbridge_sched_latency_seconds_count/ {t = $2}
		END {p = "-"; for (i = 1; i <= k; i++) if (t > 0 && c[i] >= 0.99 * t) {p = (b[i] == "+Inf" ? b[i] : sprintf("%.3g", b[i] * 1000)); break}
			printf "%s %s %s", (n > 0 ? sprintf("%.1f %%", w * 100 / n) : "-"), gc + 0, p}' "$OUT/$1.metrics" 2>/dev/null)
	read -r gw5 gwpct gwgc gwp99 <<<"$gw"
	# the Ps at the step's end and the elastic controller's changes by reason (runtime.procs)
	procs=$(awk '/^go_sched_gomaxprocs_threads / {n = $2} /^sigbridge_procs_changes_total\{/ && $2 > 0 {match($0, /reason="[^"]+"/); c = c " " substr($0, RSTART + 8, RLENGTH - 9) "=" $2}
		END {printf "processors at the end %s, changes by reason:%s", (n == "" ? "-" : n), (c == "" ? " none" : c)}' "$OUT/$1.metrics" 2>/dev/null)
	jq -r --arg gw5 "$gw5 $gwpct" --arg gwgc "$gwgc" --arg gwp99 "$gwp99" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg procs "$procs" '
		"tail: setup within 5 ms: tool \((.setup_ms.within // [] | map(select(.le_ms == 5)) | .[0].share // 0) * 1000 | round / 10) %, " +
		"gateway \($gw5); gateway GC cycles \($gwgc), its goroutines waiting for a CPU p99 <= \($gwp99) ms; " +
		"tool GC cycles \(.tool_runtime.gc_cycles // "-"), its goroutines waiting p99 \(.tool_runtime.sched_latency_ms.p99 // "-" | if type == "number" then . * 100 | round / 100 else . end) ms; load average \($load); \($procs)"' \
		"$OUT/$1.json" 2>/dev/null || true
}

s2b_step() { # SIPp UAC → gateway → load tool callees
	local name="s2b-$1" csv="$OUT/s2b.csv"
	{ echo SEQUENTIAL; for i in $(seq 0 $((USERS - 1))); do echo "callee-$i;sipp-$i"; done; } >"$csv"
	start_gateway "$name" "udp port $GW_SIP"
	start_callees "$name" "ws://$HTTP/ws"
	local c0 a0; c0=$(cpu_ticks "$GW_PID") a0=$(allocs)
	rss_sampler "$GW_PID" "$OUT/$name.rss"
	sipp_uac "127.0.0.1:$GW_SIP" "$name" "$1" "$csv"
	sipp_row s2b "$1" "$name" "$(($(cpu_ticks "$GW_PID") - c0))" "$(rss_mib "$GW_PID")" "$a0" "$(allocs)" "$(rss_delta "$OUT/$name.rss")"
	curl -fs "http://$HTTP/metrics" >"$OUT/$name.metrics" || true # as for b2s and b2b
	if [ -n "${AFTER_RATE:-}" ]; then # the recovery check: normal rate 10 s after the step
		sleep 10
		s2b_after "$name.after" "$csv"
	fi
	s2b_ended "$name"
	sip_split "$name"
	cleanup
}

# s2b_after runs SIPp again at AFTER_RATE for AFTER_DURATION s against the
# same gateway and callees (row "s2b+10s").
s2b_after() { # $1 = step name, $2 = csv
	local DURATION=${AFTER_DURATION:-10} c0 a0
	c0=$(cpu_ticks "$GW_PID") a0=$(allocs)
	sipp_uac "127.0.0.1:$GW_SIP" "$1" "$AFTER_RATE" "$2"
	sipp_row s2b+10s "$AFTER_RATE" "$1" "$(($(cpu_ticks "$GW_PID") - c0))" "$(rss_mib "$GW_PID")" "$a0" "$(allocs)"
}

# s2b_ended checks, once SIPp has ended every call, that each call ended
# on both legs: it waits up to 40 s (Timer H is 32 s) for the gateway's
# sigbridge_calls_active to reach 0, stops the callees (their report then
# counts the hang-ups they got) and prints the gateway's 200s to SIPp,
# SIPp's completed calls, the callees' answered and hung-up calls and the
# calls still active. A 200 SIPp never completed, or a callee never hung
# up, is a call that ended on one leg only.
s2b_ended() { # $1 = step name
	local active=? waited=0 ok200 done=0 st
	for waited in $(seq 0 40); do
		active=$(curl -fs "http://$HTTP/metrics" | awk '$1 == "sigbridge_calls_active" {print $2}')
		[ "$active" = 0 ] && break
		sleep 1
	done
	ok200=$(curl -fs "http://$HTTP/metrics" | awk '$1 ~ /^sigbridge_sip_calls_total\{/ && /direction="in"/ && /code="200"/ {print $2}')
	for st in "$OUT/$1.uac.csv" "$OUT/$1.after.uac.csv"; do
		[ -f "$st" ] && done=$((done + $(sipp_col "$st" "SuccessfulCall(C)")))
	done
	kill "$CALLEES_PID" 2>/dev/null || true
	wait "$CALLEES_PID" 2>/dev/null || true # it writes its report as it exits
	jq -r --arg ok "${ok200:-?}" --arg done "$done" --arg act "$active" --arg w "$waited" --arg n "$1" \
		'"\($n): gateway 200s to SIPp \($ok), SIPp completed \($done); callees answered \(.callee_answered), hung up by the gateway \(.callee_hung_up); calls active at the gateway \($act) (\($w) s after SIPp ended)"' \
		"$OUT/$1.json"
}

# start_callees logs USERS answer-only callees (callee-k) in at $2 and
# returns once they are logged in; they answer until killed.
start_callees() { # $1 = step name, $2 = WebSocket URL
	"$SIGBRIDGE" load --ws "$2" --users 0 --answer --answer-users "$USERS" --target 'callee-%d' \
		--duration $((DURATION + HOLD + 70))s --ws-rate "$WSRATE" --ws-burst $((WSRATE * 2)) \
		--json "$OUT/$1.json" >"$OUT/$1.txt" 2>"$OUT/$1.progress" &
	CALLEES_PID=$!
	PIDS+=("$CALLEES_PID")
	for _ in $(seq 300); do grep -q "logged in" "$OUT/$1.progress" 2>/dev/null && break; sleep 0.2; done
	grep -q "logged in" "$OUT/$1.progress" || { echo "callees did not log in; see $OUT/$1.progress" >&2; exit 1; }
}

ref_step() { # SIPp UAC → SIPp UAS, no gateway
	local name="ref-$1" csv="$OUT/ref.csv"
	{ echo SEQUENTIAL; for i in $(seq 0 $((USERS - 1))); do echo "uas;sipp-$i"; done; } >"$csv"
	sipp_uas "$name"
	local c0; c0=$(cpu_ticks "$UAS_PID")
	sipp_uac "127.0.0.1:$UAS_PORT" "$name" "$1" "$csv"
	sipp_row ref "$1" "$name" "$(($(cpu_ticks "$UAS_PID") - c0))" -
	cleanup
}

sipp_row() { # $1 path, $2 rate, $3 step name, $4 CPU ticks of the gateway (ref: of the SIPp UAS), $5 RSS, $6 $7 allocs before/after, $8 RSS Δ
	local st="$OUT/$3.uac.csv" ok failed retrans
	ok=$(sipp_col "$st" "SuccessfulCall(C)") failed=$(sipp_col "$st" "FailedCall(C)")
	retrans=$(sipp_col "$st" "Retransmissions(C)")
	local cpu=-
	[ "$ok" -gt 0 ] 2>/dev/null && cpu=$(awk -v t="$4" -v n="$ok" 'BEGIN {printf "%.2f", t * 10 / n}')
	local alloc=-
	[ -n "${6:-}" ] && alloc=$(per_call "$6" "$7" "$ok")
	row "$1" "$2" $((ok + failed)) "$ok" "$failed" $((ok / DURATION)) "$cpu" "$(rtt_p50_p99 "$3")" "$5" "${8:--}" "$retrans" "$alloc"
}

# --- Across nodes: nats-server and nodes A and B (x2b, xs2b) ---

# nats_binary sets NATS_SERVER: given, on PATH, or the version go.mod pins
# (built once into the cache directory internal/natstest uses).
nats_binary() {
	[ -n "${NATS_SERVER:-}" ] && return 0
	NATS_SERVER=$(command -v nats-server || true)
	[ -n "$NATS_SERVER" ] && return 0
	local mod=github.com/nats-io/nats-server/v2 version dir
	version=$(cd "$ROOT" && go list -m -f '{{.Version}}' "$mod")
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/sigbridge
	NATS_SERVER=$dir/nats-server-$version
	[ -x "$NATS_SERVER" ] && return 0
	mkdir -p "$dir"
	(cd "$ROOT" && go build -o "$NATS_SERVER.build.$$" "$mod") && mv "$NATS_SERVER.build.$$" "$NATS_SERVER"
}

# start_cluster starts a fresh nats-server (JetStream in OUT, monitoring on
# NATS_MON) and nodes a (HTTP, GW_SIP) and b (HTTP_B, GW_SIP_B), and waits
# until each node counts two live nodes. PIDs: NATS_PID, A_PID, B_PID.
start_cluster() { # $1 = step name
	rm -rf "$OUT/$1.jetstream"
	"$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" -m "${NATS_MON##*:}" -js -sd "$OUT/$1.jetstream" -n load \
		-l "$OUT/$1.nats.log" >/dev/null 2>&1 &
	NATS_PID=$!
	PIDS+=("$NATS_PID")
	for _ in $(seq 100); do curl -fs "http://$NATS_MON/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	gateway_config "$OUT/node-a.yaml" "$HTTP" "$GW_SIP" a
	gateway_config "$OUT/node-b.yaml" "$HTTP_B" "$GW_SIP_B" b
	start_sigbridge "$OUT/node-a.yaml" "$HTTP" "$OUT/$1.node-a.log"
	A_PID=$STARTED
	start_sigbridge "$OUT/node-b.yaml" "$HTTP_B" "$OUT/$1.node-b.log"
	B_PID=$STARTED
	local h
	for h in "$HTTP" "$HTTP_B"; do
		for _ in $(seq 100); do
			[ "$(curl -fs "http://$h/metrics" | awk '$1 ~ /^sigbridge_cluster_nodes[{]/ {print $2}')" = 2 ] && break
			sleep 0.1
		done
	done
}

# nats_sent prints what node $1 (HTTP address) sent over NATS so far:
# messages other than heartbeats, and payload bytes (heartbeats included).
nats_sent() {
	curl -fs "http://$1/metrics" | awk '$1 ~ /^sigbridge_cluster_messages_total[{]/ && $1 ~ /direction="sent"/ &&
		$1 !~ /type="heartbeat"/ {m += $2} $1 ~ /^sigbridge_cluster_bytes_total[{]/ && $1 ~ /direction="sent"/ {b += $2}
		END {printf "%.0f %.0f\n", m, b}'
}

# x_sample prints one sample of the x paths' counters: CPU ticks of node
# A, node B and nats-server; allocations of A and B; NATS messages and
# bytes sent by A and B; nats-server's in_msgs and out_msgs.
x_sample() {
	echo "$(cpu_ticks "$A_PID") $(cpu_ticks "$B_PID") $(cpu_ticks "$NATS_PID") $(allocs "$HTTP") $(allocs "$HTTP_B")" \
		"$(nats_sent "$HTTP") $(nats_sent "$HTTP_B")" \
		"$(curl -fs "http://$NATS_MON/varz" | jq -r '"\(.in_msgs) \(.out_msgs)"')"
}

# x_cols prints the x columns for samples $1 and $2 and $3 answered calls,
# tab-separated: CPU ms A+B, KB/allocs A+B (summed), NATS msgs and KB sent
# per call, nats-server msgs in/out per call, nats-server CPU ms per call.
x_cols() {
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {split(a, x, " "); split(b, y, " ")
		for (i in y) d[i] = y[i] - x[i]
		if (n <= 0) {print "-\t-\t-\t-\t-\t-"; exit}
		printf "%.2f+%.2f\t%.1f/%.0f\t%.1f\t%.2f\t%.1f/%.1f\t%.2f\n", d[1] * 10 / n, d[2] * 10 / n,
			(d[4] + d[6]) / n / 1000, (d[5] + d[7]) / n, (d[8] + d[10]) / n, (d[9] + d[11]) / n / 1000,
			d[12] / n, d[13] / n, d[3] * 10 / n}'
}

x_step() { # $1 = path (x2b, xs2b), $2 = rate
	local name="$1-$2" csv="$OUT/s2b.csv" s0 s1 base
	start_cluster "$name"
	s0=$(x_sample) # logins included, as in the other paths
	start_callees "$name.callees" "ws://$HTTP_B/ws"
	sleep 1 # node A's copy of the registry follows the callees' claims (a KV watch)
	if [ "$1" = x2b ]; then
		"$SIGBRIDGE" load --ws "ws://$HTTP/ws" --users "$USERS" --rate "$2" --duration "${DURATION}s" \
			--hold "${HOLD}s" --target 'callee-%d' --max-calls-per-user "$CAP" --ws-rate "$WSRATE" \
			--ws-burst $((WSRATE * 2)) --json "$OUT/$name.json" >"$OUT/$name.txt" 2>"$OUT/$name.progress" || true
		base=$(jq -r --arg d "$DURATION" '[.attempted, .answered, "\(.failed)/\(.failed - (.refused // 0)) (+\(.not_placed))",
			(.answered / ($d | tonumber) | floor | tostring),
			"\(.setup_ms.p50 * 10 | round / 10)/\(.setup_ms.p99 * 10 | round / 10)", "-"] | @tsv' "$OUT/$name.json")
	else
		{ echo SEQUENTIAL; for i in $(seq 0 $((USERS - 1))); do echo "callee-$i;sipp-$i"; done; } >"$csv"
		sipp_uac "127.0.0.1:$GW_SIP" "$name" "$2" "$csv"
		local st="$OUT/$name.uac.csv" ok failed
		ok=$(sipp_col "$st" "SuccessfulCall(C)") failed=$(sipp_col "$st" "FailedCall(C)")
		base=$(printf '%s\t%s\t%s\t%s\t%s\t%s' $((ok + failed)) "$ok" "$failed" $((ok / DURATION)) \
			"$(rtt_p50_p99 "$name")" "$(sipp_col "$st" "Retransmissions(C)")")
	fi
	s1=$(x_sample)
	curl -fs "http://$HTTP/metrics" >"$OUT/$name.node-a.metrics" || true
	curl -fs "http://$HTTP_B/metrics" >"$OUT/$name.node-b.metrics" || true
	curl -fs "http://$NATS_MON/varz" >"$OUT/$name.varz.json" || true
	local rss="$(rss_mib "$A_PID")+$(rss_mib "$B_PID")" att ans fail cps setup rt cpu alloc msgs kb srv srvcpu
	IFS=$'\t' read -r att ans fail cps setup rt <<<"$base"
	IFS=$'\t' read -r cpu alloc msgs kb srv srvcpu <<<"$(x_cols "$s0" "$s1" "$ans")"
	row "$1" "$2" "$att" "$ans" "$fail" "$cps" "$cpu" "$setup" "$rss" - "$rt" "$alloc" "$msgs" "$kb" "$srv" "$srvcpu"
	cleanup
}

XCOLS=
case " $PATHS " in *" x2b "* | *" xs2b "*) XCOLS=1 && nats_binary ;; esac
gateway_config
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); DURATION=${DURATION}s HOLD=${HOLD}s USERS=$USERS"
row path rate attempt answered "failed/adm(+np)" "calls/s" "ms CPU (tool)" "setup ms" "RSS" "RSS Δ" retrans "KB/allocs" \
	"NATS msg" "NATS KB" "srv in/out" "srv ms"
row ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
for p in $PATHS; do
	for r in $RATES; do
		case $p in
		b2s | b2b) load_step "$p" "$r" ;;
		s2b) s2b_step "$r" ;;
		ref) ref_step "$r" ;;
		x2b | xs2b) x_step "$p" "$r" ;;
		*) echo "unknown path $p (b2s b2b s2b ref x2b xs2b)" >&2; exit 2 ;;
		esac
	done
done
