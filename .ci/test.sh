#!/usr/bin/env bash
# Installs what the tests need on a Debian machine (as root) and runs every
# test. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

install_packages() {
  local need=()
  command -v chromium >/dev/null || need+=(chromium)
  command -v sipp >/dev/null || need+=(sip-tester)
  command -v prosody >/dev/null || need+=(prosody)
  command -v kamailio >/dev/null || need+=(kamailio)
  command -v baresip >/dev/null || need+=(baresip-core) # modules ice, dtls_srtp, ctrl_tcp, sndfile
  command -v npm >/dev/null || need+=(nodejs npm)
  command -v unshare >/dev/null || need+=(util-linux)
  command -v ip >/dev/null || need+=(iproute2)
  command -v turnserver >/dev/null || need+=(coturn)
  command -v rtpengine >/dev/null || need+=(rtpengine-daemon) # userspace mode; tests start their own
  [ ${#need[@]} -eq 0 ] && return 0
  log "apt-get install ${need[*]}"
  # Packages must not start their own daemons (prosody, kamailio, coturn, rtpengine): the tests
  # start their own on loopback.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  # If a package's daemon got started anyway (an image without policy-rc.d
  # honoured), stop it: tests run their own rtpengine on free ports.
  if command -v service >/dev/null; then service rtpengine-daemon stop >/dev/null 2>&1 || true; fi
  if command -v systemctl >/dev/null; then systemctl disable --now rtpengine-daemon >/dev/null 2>&1 || true; fi
}

install_npm() {
  local dir=cmd/sigbridge/testdata/e2e
  if [ -f "$dir/package.json" ]; then
    log "npm install in $dir (playwright-core only; no browser download)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
  # The interop harness's third-party browser clients (jssip, stanza) and
  # esbuild, which bundles them when the tests and the matrix start.
  dir=interop/testdata/clients
  log "npm install in $dir (jssip, stanza, esbuild)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

check_style() {
  log "gofmt and go vet"
  local bad
  bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$bad" ]; then echo "gofmt needed: $bad"; exit 1; fi
  go vet ./...
}

# deadline_race reports whether the output $1 of a failed `go test -fuzz`
# of target $2 is only Go 1.26's coordinator race: when -fuzztime expires
# it can end a run that found nothing with a bare "context deadline
# exceeded" (internal/fuzz, golang/go#75804, fixed in Go 1.27; it shows on
# busy boxes). The whole budget was fuzzed by then and no input was
# written. Any other failure, or an input, is not it.
deadline_race() {
  ! grep -q 'Failing input written to' <<<"$1" &&
    [ "$(grep -c -- '^--- FAIL' <<<"$1")" = 1 ] &&
    grep -A1 -E "^--- FAIL: $2 \([0-9.]+s\)\$" <<<"$1" | tail -n 1 | grep -qx '    context deadline exceeded'
}

# fuzz runs every fuzz target of the repository (every `func FuzzX` in a
# _test.go file) for $FUZZTIME each. A crasher makes go write the input to
# <package>/testdata/fuzz/FuzzX/<hash>, where it stays as a regression case
# that every later `go test` runs: commit it with the fix.
fuzz() {
  local budget=${FUZZTIME:-10s} failed=() file dir name out
  while IFS=: read -r file name; do
    dir=./$(dirname "$file")
    name=${name#func }
    name=${name%%(*}
    log "fuzz $name in $dir for $budget"
    if ! out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" "$dir" 2>&1) &&
      ! { deadline_race "$out" "$name" &&
        log "fuzz $name: Go's deadline race at the end of the budget (golang/go#75804), no input: passed"; }; then
      echo "$out" | tail -n 30
      echo "FUZZ FAILURE: $name in $dir; $(echo "$out" | grep -o 'Failing input written to [^ ]*' | sed "s|written to |written to ${dir#./}/|" || echo 'no input written')"
      failed+=("$name")
    fi
  done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]*\(' -- '*_test.go' 2>/dev/null | cut -d: -f1,3 ||
           grep -rn -E --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | sed 's|^\./||' | cut -d: -f1,3)
  if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashers in: ${failed[*]} (the inputs are in the packages' testdata/fuzz; commit them with the fix)"
    exit 1
  fi
}

command -v go >/dev/null || { echo "Go 1.26 is required (https://go.dev/dl/)"; exit 1; }
install_packages
install_npm
check_style
log "go test -race ./..."
go test -race -count=1 -timeout 40m ./...
fuzz

# The interop matrix against a fresh local deployment, in a network namespace
# that holds only loopback (media stays on lo), plus 10.99.0.1 on lo for the
# third-party SIP clients (baresip's ICE skips 127/8; neither they nor JsSIP
# are trusted sources there, so both log in with digest). Reports land in
# $INTEROP_OUT.
log "sigbridge interop (whole matrix, third-party clients included)"
out=${INTEROP_OUT:-$(mktemp -d)}
go build -o "$out/sigbridge" ./cmd/sigbridge
unshare --net --fork sh -c "ip link set lo up && ip addr add 10.99.0.1/32 dev lo && exec '$out/sigbridge' interop --clients interop/testdata/clients --json '$out/interop.json' --html '$out/interop.html'"
echo "interop reports: $out/interop.html $out/interop.json"
