package interop

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
)

//go:embed chromium_agent.js
var chromiumAgentJS string

// chromiumPoll is how often the harness collects the page's events.
const chromiumPoll = 50 * time.Millisecond

// chromiumAgent is a browser-dialect party played by headless Chromium:
// a page of the gateway's own origin (so the WebSocket passes the origin
// check) runs chromium_agent.js, which speaks the dialect and owns a real
// RTCPeerConnection with Chromium's fake camera and microphone.
type chromiumAgent struct {
	proc  *chromiumProc
	ev    *EventLog
	tr    *Transcript
	party string
	name  string
	log   *slog.Logger

	mu    sync.Mutex
	stats MediaReport

	stop     chan struct{}
	pollDone chan struct{}
	once     sync.Once
}

func newChromiumAgent(ctx context.Context, o agentOptions) (Agent, error) {
	audio, video, data := o.media.Kinds()
	opts := map[string]any{"ws": o.dep.WS, "name": o.name, "label": o.label, "role": o.role.String(),
		"media": map[string]bool{"audio": audio, "video": video, "data": data}, "loopbackOnly": isLoopbackURL(o.dep.WS)}
	return startPageAgent(ctx, o, chromiumAgentJS, opts)
}

// startPageAgent starts Chromium on a page of the gateway's origin, runs
// script there (it must define window.interopAgent) and starts the agent
// with opts; interopAgent.start returns the agent's address. The
// third-party client agents (JsSIP, StanzaJS) run this way too.
func startPageAgent(ctx context.Context, o agentOptions, script string, opts map[string]any) (*chromiumAgent, error) {
	page, err := originPage(o.dep.WS)
	if err != nil {
		return nil, err
	}
	proc, err := startChromium(ctx, o.dep.Chromium, page)
	if err != nil {
		return nil, err
	}
	a := &chromiumAgent{proc: proc, ev: NewEventLog(), tr: o.tr, party: o.role.String(), log: o.log,
		stop: make(chan struct{}), pollDone: make(chan struct{})}
	if err := a.load(ctx, page, script, opts); err != nil {
		proc.kill()
		return nil, err
	}
	go a.poll()
	return a, nil
}

// originPage turns ws(s)://host/path into http(s)://host/.
func originPage(ws string) (string, error) {
	u, err := url.Parse(ws)
	if err != nil {
		return "", fmt.Errorf("interop: --ws %q: %w", ws, err)
	}
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path, u.RawQuery = "/", ""
	return u.String(), nil
}

// load waits for the gateway's page (not the about:blank before it: its
// origin would fail the WebSocket's origin check), injects the agent and
// logs in.
func (a *chromiumAgent) load(ctx context.Context, page, script string, opts map[string]any) error {
	want := strings.TrimSuffix(page, "/")
	for {
		var state string
		err := a.proc.cdp.eval(ctx, `location.origin === `+jsString(want)+` ? document.readyState : "elsewhere"`, &state)
		if err == nil && state == "complete" {
			break
		}
		if err := a.proc.pause(ctx, "the gateway's page did not load in chromium"); err != nil {
			return err
		}
	}
	if err := a.proc.cdp.eval(ctx, script, nil); err != nil {
		return err
	}
	b, _ := json.Marshal(opts)
	if err := a.proc.cdp.eval(ctx, "interopAgent.start("+string(b)+")", &a.name); err != nil {
		a.drainOnce(ctx)
		return err
	}
	return nil
}

// isLoopbackURL reports a deployment on this machine: the page then keeps
// only loopback candidates, so media stays on lo.
func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

// poll collects events, protocol messages and media counts from the page.
func (a *chromiumAgent) poll() {
	defer close(a.pollDone)
	tick := time.NewTicker(chromiumPoll)
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := a.drainOnce(ctx)
		cancel()
		if err != nil {
			a.ev.Close(fmt.Errorf("interop: %s (chromium): %w", a.party, err))
			return
		}
	}
}

// chromiumDrain is what interopAgent.drain() returns.
type chromiumDrain struct {
	Events []struct {
		Kind   string `json:"kind"`
		At     int64  `json:"at"`
		Reason string `json:"reason"`
		Code   int    `json:"code"`
		Detail string `json:"detail"`
	} `json:"events"`
	Log []struct {
		Dir  string `json:"dir"`
		Text string `json:"text"`
		At   int64  `json:"at"`
	} `json:"log"`
	Stats struct {
		ICE   string `json:"ice"`
		Audio int    `json:"audio"`
		Video int    `json:"video"`
		Data  int    `json:"data"`
	} `json:"stats"`
}

func (a *chromiumAgent) drainOnce(ctx context.Context) error {
	var d chromiumDrain
	if err := a.proc.cdp.eval(ctx, "interopAgent.drain()", &d); err != nil {
		return err
	}
	for _, l := range d.Log {
		a.tr.AddAt(time.UnixMilli(l.At), a.party, l.Dir, l.Text)
	}
	for _, e := range d.Events {
		if e.Kind == "closed" {
			continue
		}
		a.ev.Add(Event{Kind: EventKind(e.Kind), Reason: e.Reason, Code: e.Code, Detail: e.Detail, At: time.UnixMilli(e.At)})
	}
	a.mu.Lock()
	s := d.Stats
	a.stats.ICE, a.stats.Audio, a.stats.Video, a.stats.Data = s.ICE, s.Audio, s.Video, s.Data
	if s.ICE == "connected" || s.ICE == "completed" {
		a.stats.Connected = true
	}
	a.mu.Unlock()
	return nil
}

// do runs one agent command in the page.
func (a *chromiumAgent) do(ctx context.Context, expr string) error {
	return a.proc.cdp.eval(ctx, expr, nil)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Address implements Agent.
func (a *chromiumAgent) Address() string { return a.name }

// Events implements Agent.
func (a *chromiumAgent) Events() *EventLog { return a.ev }

// Media implements Agent.
func (a *chromiumAgent) Media() MediaEnd { return a }

// Report implements MediaEnd: the counts of the last poll (getStats
// inbound-rtp packetsReceived, data channel messages).
func (a *chromiumAgent) Report(context.Context) (MediaReport, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats, nil
}

// Call implements Agent.
func (a *chromiumAgent) Call(ctx context.Context, target string) error {
	return a.do(ctx, "interopAgent.call("+jsString(target)+")")
}

// Ring implements Agent.
func (a *chromiumAgent) Ring(ctx context.Context) error { return a.do(ctx, "interopAgent.ring()") }

// Answer implements Agent.
func (a *chromiumAgent) Answer(ctx context.Context) error { return a.do(ctx, "interopAgent.answer()") }

// Reject implements Agent.
func (a *chromiumAgent) Reject(ctx context.Context, why Outcome) error {
	return a.do(ctx, "interopAgent.reject("+jsString(string(why))+")")
}

// HangUp implements Agent.
func (a *chromiumAgent) HangUp(ctx context.Context) error { return a.do(ctx, "interopAgent.hangup()") }

// SendTones implements toneSender: RTCRtpSender.dtmf.insertDTMF, waiting
// for the last tone to end.
func (a *chromiumAgent) SendTones(ctx context.Context, digits string) error {
	return a.do(ctx, "interopAgent.tones("+jsString(digits)+")")
}

// SendDTMF implements dtmfSignaler: the browser dialect's dtmf message.
func (a *chromiumAgent) SendDTMF(ctx context.Context, digits string) error {
	return a.do(ctx, "interopAgent.dtmf("+jsString(digits)+")")
}

// Reoffer implements Agent: transceiver directions, then a new offer.
func (a *chromiumAgent) Reoffer(ctx context.Context, dir string) error {
	return a.do(ctx, "interopAgent.reoffer("+jsString(dir)+")")
}

// Vanish implements Agent: the browser process is killed.
func (a *chromiumAgent) Vanish() error {
	a.tr.Add(a.party, "sent", "<chromium killed>")
	a.shutdown(false)
	return nil
}

// Close implements Agent.
func (a *chromiumAgent) Close() error {
	a.shutdown(true)
	return nil
}

// shutdown stops polling and the browser; graceful first closes the
// page's peer connection and WebSocket.
func (a *chromiumAgent) shutdown(graceful bool) {
	a.once.Do(func() {
		close(a.stop)
		<-a.pollDone
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.do(ctx, "interopAgent.close()")
			cancel()
		}
		a.proc.kill()
	})
}
