package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/sigbridge/sigbridge/interop/load"
)

const loadUsage = `usage: sigbridge load --ws URL --target PATTERN [flags]

Places browser-dialect calls (Chromium SDP offer, three trickled candidates,
end-of-candidates, hang-up after --hold) through the gateway at --ws, at
--rate calls/s for --duration or --calls, then drains and reports attempted,
answered, failed by reason and setup latency (offer sent → answer received).
A progress line goes to stderr every second. The %%d in --user-pattern and
--target is the caller user's index: caller k calls target k. The exit
status is 1 when a call failed or could not be placed, 2 on bad flags.
See interop/load/README.md.

`

// loadFlags are the subcommand's own settings beyond load.Options.
type loadFlags struct {
	json string
	// gcMinHeap is the tool's heap floor (gcfloor.go), as serve's
	// runtime.gc_min_heap; none by default. With 64 MiB the tool collected
	// less often, but at browser → SIP 3,000 calls/s on the 2-core box the
	// gateway beside it shed 10-12 % of the calls instead of 1-5 % and spent
	// 0.44 ms per call instead of 0.39-0.41 (docs/PERFORMANCE.md, "Measured:
	// 2026-12-06 13:42-14:10 UTC"): the tool's larger heap costs the shared
	// cores more than its collections do.
	gcMinHeap int64
	// hugeHeap is the tool's runtime.huge_heap, as serve's.
	hugeHeap int64
}

func parseLoadFlags(args []string, errOut io.Writer) (load.Options, loadFlags, error) {
	var o load.Options
	var lf loadFlags
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, strings.ReplaceAll(loadUsage, "%%", "%")); fs.PrintDefaults() }
	fs.StringVar(&o.WS, "ws", "", "browser dialect WebSocket URL (ws://127.0.0.1:8080/ws)")
	fs.IntVar(&o.Users, "users", load.DefaultUsers, "logged-in caller users (0 with --answer: only answer, for SIP → browser)")
	fs.StringVar(&o.UserPattern, "user-pattern", load.DefaultUserPattern, "caller user names; %d is the user's index")
	fs.Float64Var(&o.Rate, "rate", load.DefaultRate, "calls placed per second")
	fs.DurationVar(&o.Duration, "duration", 0, "how long calls are placed (default 10s when --calls is not set)")
	fs.IntVar(&o.Calls, "calls", 0, "how many calls are due (those beyond the per-user limits are counted as not placed)")
	fs.DurationVar(&o.Hold, "hold", load.DefaultHold, "how long an answered call is held before hang-up")
	fs.StringVar(&o.Target, "target", "", "callee address; %d is the caller's index (callee-%d, sip:uas@127.0.0.1:5080)")
	fs.BoolVar(&o.Answer, "answer", false, "log in the --target users too and answer every call (browser → browser)")
	fs.IntVar(&o.AnswerUsers, "answer-users", 0, "answering users when --users is 0")
	fs.StringVar(&o.Media, "media", "audio", "offer: audio (Chromium audio-only) or av (audio, video, data channel)")
	fs.IntVar(&o.MaxCallsPerUser, "max-calls-per-user", load.DefaultMaxCallsPerUser, "the gateway's gateway.max_calls_per_user: calls in flight per user never exceed it")
	fs.Float64Var(&o.MsgRate, "ws-rate", load.DefaultMsgRate, "the gateway's ws.rate_per_second: messages per user stay within it")
	fs.Float64Var(&o.MsgBurst, "ws-burst", load.DefaultMsgBurst, "the gateway's ws.rate_burst")
	fs.DurationVar(&o.SetupTimeout, "setup-timeout", load.DefaultSetupTimeout, "a call not answered within this fails (and is hung up)")
	fs.DurationVar(&o.Drain, "drain", 0, "wait for calls in flight after placing stops (default setup-timeout + hold + 5s)")
	fs.StringVar(&o.TokenSecret, "token-secret", os.Getenv("SIGBRIDGE_LOAD_TOKEN_SECRET"), "mint an HS256 JWT per user with this secret (default $SIGBRIDGE_LOAD_TOKEN_SECRET)")
	fs.StringVar(&o.TokenAudience, "token-audience", "", "aud claim of minted tokens")
	fs.StringVar(&o.TokenIssuer, "token-issuer", "", "iss claim of minted tokens")
	fs.StringVar(&o.Token, "token", "", "a given JWT (one user: --users 1; its sub is the user name)")
	fs.Float64Var(&o.LoginRate, "login-rate", 0, "users logged in per second (0: as fast as 32 concurrent handshakes go)")
	fs.DurationVar(&o.StartDelay, "start-delay", 0, "pause between the last login and the first call")
	fs.StringVar(&o.Origin, "origin", "", "Origin header to send (default none, as non-browser clients)")
	fs.StringVar(&lf.json, "json", "", "write the report as JSON to this file")
	fs.Int64Var(&lf.gcMinHeap, "gc-min-heap", 0, "the tool's own floor under its GC heap goal in bytes, as serve's runtime.gc_min_heap (0: none, the default; GOGC in the environment still wins)")
	fs.Int64Var(&lf.hugeHeap, "huge-heap", DefaultHugeHeap, "bytes of the tool's heap readied for transparent huge pages at start, as serve's runtime.huge_heap (0: none)")
	if err := fs.Parse(args); err != nil {
		return o, lf, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "sigbridge load: unexpected argument %q\n", fs.Arg(0))
		return o, lf, errors.New("unexpected argument")
	}
	if err := (RuntimeConfig{GCMinHeap: lf.gcMinHeap, HugeHeap: lf.hugeHeap}).Validate(); err != nil {
		fmt.Fprintf(errOut, "sigbridge load: --gc-min-heap, --huge-heap: %v\n", err)
		return o, lf, err
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(errOut, "sigbridge load: %v\n", err)
		return o, lf, err
	}
	return o, lf, nil
}

// runLoad is `sigbridge load`.
func runLoad(ctx context.Context, args []string, out, errOut io.Writer) int {
	o, lf, err := parseLoadFlags(args, errOut)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(errOut, nil))
	startPprof(log) // SIGBRIDGE_PPROF: profile the tool itself
	defer applyRuntime(RuntimeConfig{GCPercent: DefaultGCPercent, GCMinHeap: lf.gcMinHeap, HugeHeap: lf.hugeHeap}, log).Stop()
	rep, err := load.Run(ctx, o, errOut)
	if err != nil {
		fmt.Fprintf(errOut, "sigbridge load: %v\n", err)
		return 1
	}
	if err := rep.WriteText(out); err != nil {
		fmt.Fprintf(errOut, "sigbridge load: %v\n", err)
		return 1
	}
	if lf.json != "" {
		if err := writeLoadJSON(lf.json, rep); err != nil {
			fmt.Fprintf(errOut, "sigbridge load: %v\n", err)
			return 1
		}
	}
	if rep.Failed > 0 || rep.NotPlaced > 0 {
		return 1
	}
	return 0
}

func writeLoadJSON(path string, rep *load.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("json report: %w", err)
	}
	return f.Close()
}
