package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/sigbridge/sigbridge/interop"
)

// interopFlags are the flags of `sigbridge interop`.
type interopFlags struct {
	ws                                             []string
	sip, sipListen, sipDomain                      string
	xmpp, xmppPassword, xmppPeer, xmppPeerPassword string
	xmppServer, xmppComponent                      string
	run, jsonFile, htmlFile, logLevel              string
	sigbridge, chromium, sipp, prosody, dir        string
	baresip, clients, clientAddr, rtpengine        string
	ringTimeout, vanishTimeout, timeout            time.Duration
	negativeControl, list, plainRTP                bool
}

const interopUsage = `usage: sigbridge interop [flags]

With no deployment flags it starts a local gateway (this program's serve),
runs the whole matrix against it over the wire and prints the table. With
--ws, --sip or --xmpp it tests that deployment instead. The exit status is
1 when any scenario fails, 2 on bad flags.

`

func parseInteropFlags(args []string, errOut io.Writer) (interopFlags, error) {
	var f interopFlags
	fs := flag.NewFlagSet("interop", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, interopUsage); fs.PrintDefaults() }
	fs.Func("ws", "browser dialect WebSocket URL of a deployment (ws://host:port/ws); repeat it or separate URLs with commas for the nodes of a cluster: each scenario puts its caller and callee on different nodes", func(v string) error {
		for u := range strings.SplitSeq(v, ",") {
			if u = strings.TrimSpace(u); u == "" {
				return errors.New("empty URL")
			}
			f.ws = append(f.ws, u)
		}
		return nil
	})
	fs.StringVar(&f.sip, "sip", "", "SIP URI of a deployment's SIP side (sip:host:port)")
	fs.StringVar(&f.sipListen, "sip-listen", "127.0.0.1:5072", "address of the harness's own SIP UA")
	fs.StringVar(&f.sipDomain, "sip-domain", "", "host part the deployment routes to the harness's SIP callees (default: --sip-listen)")
	fs.StringVar(&f.xmpp, "xmpp", "", "JID the harness's Jingle caller logs in with")
	fs.StringVar(&f.xmppPassword, "xmpp-password", "", "password of --xmpp")
	fs.StringVar(&f.xmppPeer, "xmpp-peer", "", "JID of the harness's Jingle callee")
	fs.StringVar(&f.xmppPeerPassword, "xmpp-peer-password", "", "password of --xmpp-peer")
	fs.StringVar(&f.xmppServer, "xmpp-server", "", "XMPP client address (host:port; default: the JID's domain, port 5222)")
	fs.StringVar(&f.xmppComponent, "xmpp-component", "", "the gateway's XMPP component domain")
	fs.DurationVar(&f.ringTimeout, "ring-timeout", 60*time.Second, "the deployment's ring timeout (no-answer scenarios wait this long)")
	fs.DurationVar(&f.vanishTimeout, "vanish-timeout", interop.DefaultVanishTimeout,
		"how long the deployment may take to hang up a call whose callee vanished (its probe interval + timeout)")
	fs.StringVar(&f.run, "run", "", "run only the scenarios whose name matches this regular expression")
	fs.BoolVar(&f.list, "list", false, "list the scenarios and exit")
	fs.StringVar(&f.jsonFile, "json", "", "write the results as JSON to this file")
	fs.StringVar(&f.htmlFile, "html", "", "write a self-contained HTML report to this file")
	fs.BoolVar(&f.negativeControl, "negative-control", false, "also run the negative control (expected to fail: no ICE connectivity)")
	fs.StringVar(&f.sigbridge, "sigbridge", "", "the sigbridge binary of the local deployment (default: this program)")
	fs.StringVar(&f.chromium, "chromium", "", "Chromium binary (default: chromium on PATH; \"none\" disables)")
	fs.StringVar(&f.sipp, "sipp", "", "sipp binary (default: sipp on PATH; \"none\" disables)")
	fs.StringVar(&f.baresip, "baresip", "", "baresip binary (default: baresip on PATH; \"none\" disables)")
	fs.StringVar(&f.clients, "clients", "", "npm project of the third-party browser clients, installed with `npm ci` (interop/testdata/clients); bundled with its esbuild at start (default: none, their scenarios are unsupported)")
	fs.StringVar(&f.clientAddr, "client-addr", "", "address outside 127/8 for the local deployment's third-party SIP clients (default: such an address on lo)")
	fs.StringVar(&f.prosody, "prosody", "", "prosody binary for the local deployment's XMPP server (default: prosody on PATH; \"none\": no Jingle)")
	fs.StringVar(&f.rtpengine, "rtpengine", "", "rtpengine binary for the local deployment's media relay (default: rtpengine on PATH; \"none\": no plain-RTP scenarios)")
	fs.BoolVar(&f.plainRTP, "plain-rtp", false, "the deployment anchors plain-RTP SIP calls through rtpengine: it takes plain-RTP offers from the harness and routes sip:plainrtp-*@<sip-domain> with media: rtpengine")
	fs.StringVar(&f.dir, "dir", "", "keep the local deployment's config and log in this directory")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.StringVar(&f.logLevel, "log-level", "warn", "harness log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "sigbridge interop: unexpected argument %q\n", fs.Arg(0))
		return f, errors.New("unexpected argument")
	}
	return f, nil
}

// external reports whether the flags name a deployment to test.
func (f interopFlags) external() bool { return len(f.ws) > 0 || f.sip != "" || f.xmpp != "" }

// runInterop is `sigbridge interop`.
func runInterop(ctx context.Context, args []string, out, errOut io.Writer) int {
	f, err := parseInteropFlags(args, errOut)
	if err != nil {
		return 2
	}
	scenarios, err := interopScenarios(f)
	if err != nil {
		fmt.Fprintln(errOut, "sigbridge interop:", err)
		return 2
	}
	if f.list {
		for _, s := range scenarios {
			fmt.Fprintln(out, s.Name)
		}
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	log := newLogger(errOut, f.logLevel)
	dep, stop, err := interopDeployment(ctx, f, log, scenarios)
	if err != nil {
		fmt.Fprintln(errOut, "sigbridge interop:", err)
		return 1
	}
	defer stop()
	started := time.Now()
	results := interop.Run(ctx, dep, scenarios)
	if err := writeInteropReports(f, dep.Name, started, results, out); err != nil {
		fmt.Fprintln(errOut, "sigbridge interop:", err)
		return 1
	}
	// A closing line in the common "N passed, N failed, N skipped" form, so
	// CI logs show how many scenarios ran (unsupported ones count as
	// skipped), then the known failures (XFAIL), which do not fail the run.
	n := interop.Count(results)
	fmt.Fprintf(out, "\ninterop: %d passed, %d failed, %d skipped, %d known failures (xfail)\n",
		n.Passed, n.Failed, n.Unsupported, n.Known)
	if n.Failed > 0 {
		return 1
	}
	return 0
}

func interopScenarios(f interopFlags) ([]interop.Scenario, error) {
	all := interop.Matrix()
	if f.negativeControl {
		all = append(all, interop.NegativeControl())
	}
	scenarios, err := interop.Select(all, f.run)
	if err != nil {
		return nil, err
	}
	if len(scenarios) == 0 {
		return nil, fmt.Errorf("no scenario matches --run %q (see --list)", f.run)
	}
	return scenarios, nil
}

// interopDeployment starts the local deployment, or describes the external
// one from the flags. stop releases what was started.
func interopDeployment(ctx context.Context, f interopFlags, log *slog.Logger, scs []interop.Scenario) (interop.Deployment, func(), error) {
	clients, err := interopClients(ctx, f.clients)
	if err != nil {
		return interop.Deployment{}, nil, err
	}
	if f.external() {
		dep := externalDeployment(f)
		dep.Log, dep.Chromium, dep.SIPp = log, tool(f.chromium, "chromium"), tool(f.sipp, "sipp")
		dep.Baresip, dep.Clients = tool(f.baresip, "baresip"), clients
		return dep, func() {}, nil
	}
	bin := f.sigbridge
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return interop.Deployment{}, nil, fmt.Errorf("finding this program: %w", err)
		}
		bin = exe
	}
	local, err := interop.StartLocal(ctx, interop.LocalOptions{Binary: bin, Dir: f.dir, Log: log,
		Prosody: tool(f.prosody, "prosody"), ClientAddr: f.clientAddr, Rtpengine: rtpengineFor(f, scs)})
	if err != nil {
		return interop.Deployment{}, nil, err
	}
	dep := local.Deployment
	dep.Chromium, dep.SIPp = tool(f.chromium, "chromium"), tool(f.sipp, "sipp")
	dep.Baresip, dep.Clients = tool(f.baresip, "baresip"), clients
	return dep, func() { _ = local.Close() }, nil
}

// rtpengineFor is the rtpengine binary the local deployment starts: only
// when a selected scenario has a plain-RTP phone.
func rtpengineFor(f interopFlags, scs []interop.Scenario) string {
	for _, s := range scs {
		if s.Caller.Agent == interop.PlainRTP || s.Callee.Agent == interop.PlainRTP {
			return tool(f.rtpengine, "rtpengine")
		}
	}
	return ""
}

// interopClients bundles the third-party browser clients of --clients.
func interopClients(ctx context.Context, dir string) (*interop.Clients, error) {
	if dir == "" || dir == "none" {
		return nil, nil
	}
	return interop.BuildClients(ctx, dir)
}

func externalDeployment(f interopFlags) interop.Deployment {
	dep := interop.Deployment{Name: deploymentName(f), RingTimeout: f.ringTimeout, VanishTimeout: f.vanishTimeout}
	switch len(f.ws) {
	case 0:
	case 1:
		dep.WS = f.ws[0]
	default:
		dep.WS, dep.WSNodes = f.ws[0], f.ws
	}
	if f.sip != "" {
		domain := f.sipDomain
		if domain == "" {
			domain = f.sipListen
		}
		dep.SIP = &interop.SIPDeployment{Gateway: f.sip, Listen: f.sipListen, Domain: domain, PlainRTP: f.plainRTP}
	}
	if f.xmpp != "" {
		dep.XMPP = &interop.XMPPDeployment{Server: f.xmppServer, Domain: jidDomain(f.xmpp), Component: f.xmppComponent,
			Caller: interop.XMPPAccount{JID: f.xmpp, Password: f.xmppPassword},
			Callee: interop.XMPPAccount{JID: f.xmppPeer, Password: f.xmppPeerPassword}}
	}
	return dep
}

func deploymentName(f interopFlags) string {
	var parts []string
	for _, s := range append(slices.Clone(f.ws), f.sip, f.xmpp) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

func jidDomain(jid string) string {
	if _, d, ok := strings.Cut(jid, "@"); ok {
		jid = d
	}
	d, _, _ := strings.Cut(jid, "/")
	return d
}

// tool resolves a helper binary: an explicit path, "none", or the name on PATH.
func tool(flagValue, name string) string {
	switch flagValue {
	case "none":
		return ""
	case "":
		p, err := exec.LookPath(name)
		if err != nil {
			return ""
		}
		return p
	}
	return flagValue
}

func writeInteropReports(f interopFlags, title string, started time.Time, rs []interop.Result, out io.Writer) error {
	if err := interop.WriteText(out, title, rs); err != nil {
		return err
	}
	rep := interop.NewReport(title, started, rs)
	if f.jsonFile != "" {
		if err := writeFile(f.jsonFile, func(w io.Writer) error { return interop.WriteJSON(w, rep) }); err != nil {
			return err
		}
	}
	if f.htmlFile != "" {
		return writeFile(f.htmlFile, func(w io.Writer) error { return interop.WriteHTML(w, rep) })
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(fh); err != nil {
		_ = fh.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	return fh.Close()
}
