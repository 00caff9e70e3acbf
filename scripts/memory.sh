#!/usr/bin/env bash
# Memory and login-storm measurements for docs/PERFORMANCE.md: the real
# gateway and `sigbridge load` (and SIPp for b2s), all on loopback. Every step
# starts a fresh gateway, reads its RSS and Go memory from /proc and /metrics
# before and after, prints one row and stops everything it started (by PID).
#
#   scripts/memory.sh [steps...]   steps: idle held-b2b held-b2s held-s2b (default: all four)
#
#   idle      N users log in at LOGIN_RATE/s (answer-only run, no call) and stay
#             idle: KiB per idle WebSocket connection, and whether every login
#             succeeded (the login storm of issue 11).
#   held-b2b  200 callers place N calls at RATE/s to 200 answering callees and
#             hold them: KiB per held browser → browser call.
#   held-b2s  200 callers place N calls to SIPp (UAS) and hold them: KiB per
#             held browser → SIP call.
#   held-s2b  SIPp (UAC, 200 From users) places N calls at RATE/s to 200
#             answering browser users and holds them: KiB per held SIP →
#             browser call.
#
# Environment (defaults in brackets): N [10000]  LOGIN_RATE [500]  RATE [500]
#   DIRECTORY [none]  ws.directory of the gateway (all: everybody learns every login)
#   SETTLE [5]  seconds between the last login/answer and the reading
#   OUT [./load-results]  BASE_PORT [18100]  SIGBRIDGE [built]  SIPP [sipp on PATH]
#   LOAD_BIN [$SIGBRIDGE]  the binary whose `load` runs the clients (to measure an older gateway
#             with this checkout's load tool, which has --start-delay)
#   SIGBRIDGE_PPROF [unset]  host:port: the gateway serves its profiler there, and every
#             step saves its heap and goroutine profiles next to the reading (OUT/STEP.heap.pb.gz)
# Row columns: step, directory, count, logins failed (idle) or calls answered
# (held), before → after: RSS MiB, Go heap in use MiB, goroutine stacks MiB,
# goroutines; and the difference per connection or call in KiB (RSS, heap,
# stacks).
set -euo pipefail

ROOT=${SIGBRIDGE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
N=${N:-10000}
LOGIN_RATE=${LOGIN_RATE:-500}
RATE=${RATE:-500}
DIRECTORY=${DIRECTORY:-none}
SETTLE=${SETTLE:-5}
OUT=${OUT:-$PWD/load-results}
BASE_PORT=${BASE_PORT:-18100}
SIPP=${SIPP:-$(command -v sipp || true)}
STEPS=${*:-"idle held-b2b held-b2s held-s2b"}
HTTP=127.0.0.1:$BASE_PORT
GW_SIP=$((BASE_PORT + 1)) UAS_PORT=$((BASE_PORT + 2)) UAC_PORT=$((BASE_PORT + 3)) CTL_PORT=$((BASE_PORT + 4))
SCN=$ROOT/interop/load/testdata/sipp
USERS=200                             # callers (and callees) of the held steps
CAP=$(((N + USERS - 1) / USERS + 1))  # calls per user: N calls over 200 users
WSRATE=200
mkdir -p "$OUT"
# N sockets on each side (gateway and load tool) plus some.
ulimit -Hn $((2 * N + 4096)) 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((N + 1024)) ]; then
	echo "ulimit -n is $(ulimit -n): $N connections need more (run as root or raise the hard limit)" >&2
	exit 1
fi
if [ -z "${SIGBRIDGE:-}" ]; then
	SIGBRIDGE=$OUT/sigbridge
	(cd "$ROOT" && go build -o "$SIGBRIDGE" ./cmd/sigbridge)
fi

LOAD_BIN=${LOAD_BIN:-$SIGBRIDGE}

PIDS=()
# cleanup stops what the script started: SIGTERM, then SIGKILL for what is
# still there 10 s later (a SIPp UAS holding 10,000 calls once ignored
# SIGTERM and the script waited for it for good).
cleanup() {
	local pid _ alive
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for _ in $(seq 100); do
		alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=()
}
trap cleanup EXIT INT TERM

gateway_config() {
	cat >"$OUT/memory-gateway.yaml" <<YAML
http: $HTTP
drain_timeout: 5s
gateway:
  ring_timeout: 30s
  max_calls_per_user: $CAP
sip:
  listen: 127.0.0.1:$GW_SIP
  trusted_sources: ["127.0.0.1/32"]
  max_calls_per_user: $CAP
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
  directory: $DIRECTORY
YAML
}

start_gateway() { # $1 = step name
	"$SIGBRIDGE" serve --config "$OUT/memory-gateway.yaml" >"$OUT/$1.gateway.log" 2>&1 &
	GW_PID=$!
	PIDS+=("$GW_PID")
	for _ in $(seq 100); do
		curl -fs "http://$HTTP/readyz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "gateway did not start; see $OUT/$1.gateway.log" >&2
	exit 1
}

# metric prints the value of Prometheus sample $1 (exact name and labels).
metric() { curl -fs -m 10 "http://$HTTP/metrics" | awk -v m="$1" '$1 == m {print $2; exit}'; }

# sample prints "RSS heap-in-use stacks goroutines" (bytes, bytes, bytes, count).
sample() {
	local m; m=$(curl -fs -m 10 "http://$HTTP/metrics")
	printf '%s %s %s %s\n' "$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$GW_PID/status")" \
		"$(awk '$1 == "go_memstats_heap_inuse_bytes" {print $2}' <<<"$m")" \
		"$(awk '$1 == "go_memstats_stack_inuse_bytes" {print $2}' <<<"$m")" \
		"$(awk '$1 == "go_goroutines" {print $2}' <<<"$m")"
}

# profiles saves the gateway's heap and goroutine profiles (with SIGBRIDGE_PPROF).
profiles() { # $1 = step name
	[ -n "${SIGBRIDGE_PPROF:-}" ] || return 0
	curl -fs "http://$SIGBRIDGE_PPROF/debug/pprof/heap?gc=1" >"$OUT/$1.heap.pb.gz" || true
	curl -fs "http://$SIGBRIDGE_PPROF/debug/pprof/goroutine?debug=1" >"$OUT/$1.goroutines.txt" || true
}

# wait_metric waits until sample $1 reaches $2 (at most $3 s).
wait_metric() {
	local v end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		v=$(metric "$1" || true)
		awk -v v="${v:-0}" -v n="$2" 'BEGIN {exit !(v + 0 >= n)}' && return 0
		sleep 0.2
	done
	echo "$1 did not reach $2 in $3 s (last: ${v:-none})" >&2
	return 1
}

wait_line() { # $1 file, $2 text, $3 s
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
	echo "no \"$2\" in $1 after $3 s" >&2
	return 1
}

row() { printf '| %-8s | %-4s | %6s | %9s | %13s | %13s | %13s | %13s | %17s |\n' "$@"; }

# report prints the row from the samples before ($5) and after ($6).
report() { # $1 step $2 count $3 outcome $4 unit $5 before $6 after
	read -r r0 h0 s0 g0 <<<"$5"
	read -r r1 h1 s1 g1 <<<"$6"
	awk -v step="$1" -v dir="$DIRECTORY" -v n="$2" -v o="$3" -v r0="$r0" -v r1="$r1" -v h0="$h0" -v h1="$h1" \
		-v s0="$s0" -v s1="$s1" -v g0="$g0" -v g1="$g1" 'BEGIN {
		M = 1048576
		printf "| %-8s | %-4s | %6d | %9s | %5.1f → %5.1f | %5.1f → %5.1f | %5.1f → %5.1f | %5d → %5d | %5.1f / %4.1f / %4.1f |\n",
			step, dir, n, o, r0 / M, r1 / M, h0 / M, h1 / M, s0 / M, s1 / M, g0, g1,
			(r1 - r0) / n / 1024, (h1 - h0) / n / 1024, (s1 - s0) / n / 1024 }'
}

idle_step() {
	local name="memory-idle-$DIRECTORY"
	start_gateway "$name"
	sleep 1
	local before; before=$(sample)
	local t0; t0=$(date +%s.%N)
	"$LOAD_BIN" load --ws "ws://$HTTP/ws" --users 0 --answer --answer-users "$N" --target 'idle-%d' \
		--login-rate "$LOGIN_RATE" --duration 600s --json "$OUT/$name.json" >"$OUT/$name.txt" 2>"$OUT/$name.progress" &
	local load_pid=$!
	PIDS+=("$load_pid")
	local failed=0
	if ! wait_line "$OUT/$name.progress" "logged in" $((N / LOGIN_RATE + 120)); then
		failed=$(grep -c "sigbridge load:" "$OUT/$name.progress" || true)
		failed="run failed"
	fi
	local t1; t1=$(date +%s.%N)
	sleep "$SETTLE"
	local conns; conns=$(metric 'sigbridge_connections{dialect="ws"}')
	local after; after=$(sample)
	[ "$failed" = 0 ] && failed=$((N - ${conns%.*}))
	echo "# $name: $N logins in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s, $conns connections open $SETTLE s later" >&2
	report idle "$N" "$failed" conn "$before" "$after"
	profiles "$name"
	cleanup
}

held_step() { # $1 = b2b or b2s
	local name="memory-held-$1-$DIRECTORY" target="sip:uas@127.0.0.1:$UAS_PORT" extra=()
	[ "$1" = b2b ] && target='callee-%d' && extra=(--answer)
	start_gateway "$name"
	if [ "$1" = b2s ]; then
		[ -n "$SIPP" ] || { echo "sipp not found: apt-get install sip-tester" >&2; exit 1; }
		"$SIPP" -sf "$SCN/uas_answer.xml" -i 127.0.0.1 -p "$UAS_PORT" -t u1 -cp "$CTL_PORT" -aa -nostdin \
			-buff_size 4194304 -fd 1 >"$OUT/$name.uas.out" 2>&1 &
		PIDS+=("$!")
		sleep 0.5
	fi
	local placing=$(((N + RATE - 1) / RATE))
	"$LOAD_BIN" load --ws "ws://$HTTP/ws" --users "$USERS" --rate "$RATE" --calls "$N" --hold 600s \
		--target "$target" "${extra[@]}" --max-calls-per-user "$CAP" --ws-rate "$WSRATE" --ws-burst $((WSRATE * 2)) \
		--setup-timeout 30s --start-delay $((SETTLE + 3))s --json "$OUT/$name.json" \
		>"$OUT/$name.txt" 2>"$OUT/$name.progress" &
	PIDS+=("$!")
	wait_line "$OUT/$name.progress" "logged in" 120
	sleep "$SETTLE"
	local before; before=$(sample)
	wait_metric sigbridge_calls_active "$N" $((placing + 60)) || true
	sleep "$SETTLE"
	local active; active=$(metric sigbridge_calls_active)
	local after; after=$(sample)
	report "held-$1" "${active%.*}" "${active%.*}/$N" call "$before" "$after"
	profiles "$name"
	cleanup
}

held_s2b_step() { # SIPp UAC → gateway → load tool callees, held
	local name="memory-held-s2b-$DIRECTORY" csv="$OUT/memory-s2b.csv"
	[ -n "$SIPP" ] || { echo "sipp not found: apt-get install sip-tester" >&2; exit 1; }
	{ echo SEQUENTIAL; for i in $(seq 0 $((USERS - 1))); do echo "callee-$i;sipp-$i"; done; } >"$csv"
	start_gateway "$name"
	"$LOAD_BIN" load --ws "ws://$HTTP/ws" --users 0 --answer --answer-users "$USERS" --target 'callee-%d' \
		--duration 900s --ws-rate "$WSRATE" --ws-burst $((WSRATE * 2)) \
		--json "$OUT/$name.json" >"$OUT/$name.txt" 2>"$OUT/$name.progress" &
	PIDS+=("$!")
	wait_line "$OUT/$name.progress" "logged in" 120
	sleep "$SETTLE"
	local before; before=$(sample)
	local placing=$(((N + RATE - 1) / RATE))
	"$SIPP" "127.0.0.1:$GW_SIP" -sf "$SCN/uac_hold.xml" -inf "$csv" -i 127.0.0.1 -p "$UAC_PORT" -t u1 \
		-cp "$((CTL_PORT + 1))" -r "$RATE" -m "$N" -l "$N" -d 900000 -aa -nostdin -buff_size 4194304 \
		-timeout $((placing + 900))s -fd 1 >"$OUT/$name.uac.out" 2>&1 &
	PIDS+=("$!")
	wait_metric sigbridge_calls_active "$N" $((placing + 60)) || true
	sleep "$SETTLE"
	local active; active=$(metric sigbridge_calls_active)
	local after; after=$(sample)
	report held-s2b "${active%.*}" "${active%.*}/$N" call "$before" "$after"
	profiles "$name"
	cleanup
}

gateway_config
echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); N=$N LOGIN_RATE=$LOGIN_RATE RATE=$RATE DIRECTORY=$DIRECTORY; $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
row step dir count "outcome" "RSS MiB" "heap MiB" "stacks MiB" goroutines "KiB each (RSS/heap/stk)"
row ---- ---- ---- ---- ---- ---- ---- ---- ----
for s in $STEPS; do
	case $s in
	idle) idle_step ;;
	held-b2b) held_step b2b ;;
	held-b2s) held_step b2s ;;
	held-s2b) held_s2b_step ;;
	*) echo "unknown step $s (idle held-b2b held-b2s held-s2b)" >&2; exit 2 ;;
	esac
done
