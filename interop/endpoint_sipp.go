package interop

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/internal/sipptest"
)

// sippFiles are the harness's SIPp scenarios (testdata/sipp), embedded so
// that the binary runs them from anywhere.
//
//go:embed testdata/sipp/*.xml
var sippFiles embed.FS

// sippAgent is a SIP party played by SIPp, for the scenarios that need no
// media: busy, declined and no answer as a callee (UAS), busy, declined,
// cancelled, no answer and unknown target as a caller (UAC). SIPp follows
// its scenario file on its own; the file logs each milestone as a line
// "event ..." (SIPp's -trace_logs), which the agent turns into events, and
// SIPp's message trace becomes the transcript. The engine's commands wait
// for the matching milestone (Ring for the 180 SIPp sent, Reject for its
// final response, HangUp for its CANCEL), and Verify requires SIPp to have
// run its file to the end (exit status 0).
type sippAgent struct {
	o        agentOptions
	bin      string
	file     string // scenario file name in testdata/sipp
	dir      string
	user     string
	listen   string // a callee's host:port (SIPp's -i and -p)
	host     string // the host:port of its address
	ev       *EventLog
	marks    *EventLog // SIPp's own milestones: rang, rejected, cancelling
	tr       *Transcript
	party    string
	log      *slog.Logger
	outcome  Outcome
	sipp     *sipptest.SIPp // nil until SIPp runs
	stopTail chan struct{}
	tailDone chan struct{}
	once     sync.Once
}

// sippScenarioFor picks the scenario file of a party in an outcome.
func sippScenarioFor(r role, o Outcome) (string, error) {
	switch {
	case r == roleCaller && o == Cancelled:
		return "uac_cancel.xml", nil
	case r == roleCaller && o == Refused:
		return "uac_plainrtp.xml", nil
	case r == roleCaller && (o == Busy || o == Declined || o == NoAnswer || o == Unknown):
		return "uac.xml", nil
	case r == roleCallee && o == Busy:
		return "uas_busy.xml", nil
	case r == roleCallee && o == Declined:
		return "uas_decline.xml", nil
	case r == roleCallee && o == NoAnswer:
		return "uas_noanswer.xml", nil
	}
	return "", fmt.Errorf("interop: no SIPp scenario for a %s in a %s call", r, o)
}

// newSIPpAgent prepares SIPp: a callee starts listening at once (TCP: the
// gateway sends a WebRTC offer, longer than 1300 bytes, over TCP), a
// caller starts in Call.
func newSIPpAgent(ctx context.Context, o agentOptions) (*sippAgent, error) {
	if o.dep.SIP == nil || o.dep.SIPp == "" {
		return nil, errors.New("interop: no SIP deployment or no sipp binary")
	}
	file, err := sippScenarioFor(o.role, o.expect)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "interop-sipp-")
	if err != nil {
		return nil, fmt.Errorf("interop: sipp dir: %w", err)
	}
	a := &sippAgent{o: o, bin: o.dep.SIPp, file: file, dir: dir, user: "sipp-" + o.name, ev: NewEventLog(),
		marks: NewEventLog(), tr: o.tr, party: o.role.String(), log: o.log, outcome: o.expect,
		stopTail: make(chan struct{}), tailDone: make(chan struct{})}
	if err := a.writeScenario(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if o.role == roleCaller {
		return a, nil
	}
	a.listen = o.dep.SIP.SIPpListen
	if a.listen == "" {
		a.listen = o.dep.SIP.Listen
	}
	if a.listen == "" {
		port, err := freeSIPPort()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		a.listen = "127.0.0.1:" + strconv.Itoa(port)
	}
	a.host = a.listen
	if d := o.dep.SIP.Domain; d != "" && o.dep.SIP.SIPpListen == "" && o.dep.SIP.Listen != "" {
		a.host = d
	}
	if err := a.start(ctx, "", nil); err != nil {
		_ = a.Close() // removes dir
		return nil, err
	}
	return a, nil
}

func (a *sippAgent) writeScenario() error {
	b, err := sippFiles.ReadFile("testdata/sipp/" + a.file)
	if err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return os.WriteFile(filepath.Join(a.dir, a.file), b, 0o600)
}

// start runs SIPp (internal/sipptest) for one call: a callee over TCP,
// returning once it listens; a caller over UDP calling remote (the
// gateway), at once.
func (a *sippAgent) start(ctx context.Context, remote string, extra []string) error {
	o := sipptest.Options{Bin: a.bin, Scenario: filepath.Join(a.dir, a.file), Dir: a.dir, Remote: remote,
		Transport: "t1", Timeout: 60 * time.Second, TraceMessages: true, TraceLogs: true,
		Extra: append([]string{"-r", "1000"}, extra...), Log: a.log}
	if a.o.role == roleCaller {
		o.Host, o.Transport = "127.0.0.1", "u1"
		if gwHost, _ := splitHostPort(sipHostPort(a.o.dep.SIP.Gateway)); !isLoopbackHost(gwHost) {
			o.Host = "" // let SIPp pick the address of its default route
		}
	} else {
		host, port, err := net.SplitHostPort(a.listen)
		if err != nil {
			return fmt.Errorf("interop: sipp address %q: %w", a.listen, err)
		}
		if o.Port, err = strconv.Atoi(port); err != nil {
			return fmt.Errorf("interop: sipp address %q: %w", a.listen, err)
		}
		o.Host = host
	}
	s, err := sipptest.Start(ctx, o)
	if err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	a.sipp = s
	go a.tail()
	return nil
}

func (a *sippAgent) path(name string) string { return filepath.Join(a.dir, name) }

// Address implements Agent.
func (a *sippAgent) Address() string { return "sip:" + a.user + "@" + a.host }

// Events implements Agent.
func (a *sippAgent) Events() *EventLog { return a.ev }

// Media implements Agent: SIPp plays signaling only.
func (a *sippAgent) Media() MediaEnd { return nil }

// Call implements Agent: SIPp sends the INVITE to the gateway with the
// target as the Request-URI user part.
func (a *sippAgent) Call(ctx context.Context, target string) error {
	if a.o.role != roleCaller {
		return errors.New("interop: the SIPp callee cannot call")
	}
	gw := sipHostPort(a.o.dep.SIP.Gateway)
	h, p := splitHostPort(gw)
	extra := []string{"-s", escapeSIPUser(target), "-key", "caller", a.user}
	if err := a.start(ctx, net.JoinHostPort(h, strconv.Itoa(p)), extra); err != nil {
		return err
	}
	_, _, err := a.marks.Wait(ctx, 0, func(e Event) bool { return e.Kind == "sent-invite" })
	if err != nil {
		return fmt.Errorf("interop: sipp did not send its INVITE: %w", err)
	}
	return nil
}

// waitMark waits for SIPp's milestone.
func (a *sippAgent) waitMark(ctx context.Context, kind EventKind, what string) error {
	if _, _, err := a.marks.Wait(ctx, 0, func(e Event) bool { return e.Kind == kind }); err != nil {
		return fmt.Errorf("interop: sipp never %s (%s): %w", what, a.file, err)
	}
	return nil
}

// Ring implements Agent: SIPp sends 180 right after the INVITE.
func (a *sippAgent) Ring(ctx context.Context) error { return a.waitMark(ctx, "rang", "sent 180") }

// Answer implements Agent: SIPp plays no answered call.
func (a *sippAgent) Answer(context.Context) error {
	return errors.New("interop: the SIPp agent does not answer calls (no media)")
}

// Reject implements Agent: the scenario file refuses as it was chosen.
func (a *sippAgent) Reject(ctx context.Context, why Outcome) error {
	if why != a.outcome {
		return fmt.Errorf("interop: the SIPp scenario %s refuses as %s, not %s", a.file, a.outcome, why)
	}
	return a.waitMark(ctx, "rejected", "sent its final response")
}

// HangUp implements Agent: the cancelling caller's file sends CANCEL
// after the 180.
func (a *sippAgent) HangUp(ctx context.Context) error {
	if a.file != "uac_cancel.xml" {
		return fmt.Errorf("interop: the SIPp scenario %s does not hang up", a.file)
	}
	return a.waitMark(ctx, "cancelling", "sent CANCEL")
}

// Reoffer implements Agent.
func (a *sippAgent) Reoffer(context.Context, string) error {
	return errors.New("interop: the SIPp agent does not re-offer")
}

// Vanish implements Agent.
func (a *sippAgent) Vanish() error { return a.Close() }

// Verify implements verifier: SIPp must exit 0, having run its file to
// the end.
func (a *sippAgent) Verify(ctx context.Context) error {
	if a.sipp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-a.sipp.Done():
	case <-ctx.Done():
		return &failure{reason: fmt.Sprintf("SIPp (%s) did not finish its scenario", a.file), err: ctx.Err()}
	}
	if err := a.sipp.Err(); err != nil {
		return failf("SIPp (%s) failed: %v: %s", a.file, err, a.errorSummary())
	}
	return nil
}

// errorSummary is the gist of SIPp's error log.
func (a *sippAgent) errorSummary() string {
	b, _ := os.ReadFile(a.path("errors.log"))
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "20") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 3 {
		keep = keep[:3]
	}
	if len(keep) == 0 {
		return "no error logged"
	}
	return strings.Join(keep, " / ")
}

// Close implements Agent: SIPp is killed (with its process group).
func (a *sippAgent) Close() error {
	a.once.Do(func() {
		if a.sipp != nil {
			a.sipp.Stop()
			close(a.stopTail)
			<-a.tailDone
		}
		a.ev.Close(errors.New("interop: SIPp agent closed"))
		a.marks.Close(errors.New("interop: SIPp agent closed"))
		_ = os.RemoveAll(a.dir)
	})
	return nil
}

// tail follows SIPp's log (events) and message trace (transcript) until
// SIPp exits or the agent closes.
func (a *sippAgent) tail() {
	defer close(a.tailDone)
	var events, msgs fileTail
	events.path, msgs.path = a.path("events.log"), a.path("messages.log")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		last := false
		select {
		case <-a.stopTail:
			last = true
		case <-a.sipp.Done():
			last = true
		case <-tick.C:
		}
		a.readEvents(&events)
		a.readMessages(&msgs)
		if last {
			err := a.sipp.Err()
			a.ev.Close(fmt.Errorf("interop: SIPp exited (%v)", err))
			a.marks.Close(fmt.Errorf("interop: SIPp exited (%v)", err))
			return
		}
	}
}

// readEvents turns complete "event <kind> [code]" lines into events.
func (a *sippAgent) readEvents(t *fileTail) {
	t.read()
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			return
		}
		line := strings.TrimSpace(string(t.buf[:i]))
		t.buf = t.buf[i+1:]
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "event" {
			continue
		}
		code := 0
		if len(f) > 2 {
			code, _ = strconv.Atoi(f[2])
		}
		switch f[1] {
		case "incoming":
			a.ev.Add(Event{Kind: EvIncoming})
		case "ringing":
			a.ev.Add(Event{Kind: EvRinging, Code: code})
		case "ended":
			a.ev.Add(Event{Kind: EvEnded, Reason: conditionForSIP(code), Code: code})
		default:
			a.marks.Add(Event{Kind: EventKind(f[1])})
		}
	}
}

// sippMessageRE is the header SIPp writes before each traced message.
// ("UDP message received [282] bytes :", "TCP message sent (842 bytes):").
var sippMessageRE = regexp.MustCompile(`(?m)^-{10,} ([^\n]*)\n(UDP|TCP) message (sent|received) (?:\[(\d+)\] bytes :|\((\d+) bytes\):)\n\n`)

// readMessages adds each complete traced message to the transcript.
func (a *sippAgent) readMessages(t *fileTail) {
	t.read()
	for {
		m := sippMessageRE.FindSubmatchIndex(t.buf)
		if m == nil {
			return
		}
		size := m[8:10]
		if size[0] < 0 {
			size = m[10:12]
		}
		n, _ := strconv.Atoi(string(t.buf[size[0]:size[1]]))
		if len(t.buf) < m[1]+n {
			return
		}
		dir := "recv"
		if string(t.buf[m[6]:m[7]]) == "sent" {
			dir = "sent"
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.999999", string(t.buf[m[2]:m[3]]), time.Local)
		if err != nil {
			at = time.Now()
		}
		msg := t.buf[m[1] : m[1]+n]
		if dir == "sent" && bytes.HasPrefix(msg, []byte("INVITE ")) {
			a.marks.Add(Event{Kind: "sent-invite"})
		}
		a.tr.AddAt(at, a.party, dir, "(sipp "+strings.ToLower(string(t.buf[m[4]:m[5]]))+") "+sipSummary(msg))
		t.buf = t.buf[m[1]+n:]
	}
}

// fileTail reads what was appended to a file since the last read.
type fileTail struct {
	path string
	off  int64
	buf  []byte
}

func (t *fileTail) read() {
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return
	}
	b, _ := io.ReadAll(f)
	t.off += int64(len(b))
	t.buf = append(t.buf, b...)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
