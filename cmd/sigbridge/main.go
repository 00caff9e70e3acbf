package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the exit status.
func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, out, errOut)
	case "sdp2jingle":
		return runSDP2Jingle(rest, in, out, errOut)
	case "jingle2sdp":
		return runJingle2SDP(rest, in, out, errOut)
	case "interop":
		return runInterop(ctx, rest, out, errOut)
	case "load":
		return runLoad(ctx, rest, out, errOut)
	case "version":
		fmt.Fprintln(out, versionString())
		return 0
	case "help":
		fmt.Fprint(out, usage)
		return 0
	}
	fmt.Fprintf(errOut, "sigbridge: unknown command %q\n%s", cmd, usage)
	return 2
}

const usage = `usage:
  sigbridge [serve] [--config FILE] [--http ADDR] [--log-level debug|info|warn|error]
  sigbridge version
  sigbridge interop [--ws URL] [--sip URI] [--xmpp JID ...] [--run PATTERN] [--json FILE] [--html FILE] [--negative-control]
  sigbridge load --ws URL --target PATTERN [--users N] [--rate R] [--duration D | --calls N] [--hold D] [--answer] [--token-secret S | --token T] [--json FILE]
  sigbridge sdp2jingle [-role initiator|responder] [-drop-mdns] [-action A] [-sid S] < offer.sdp
  sigbridge jingle2sdp [-role initiator|responder] [-drop-mdns] < jingle.xml
`
