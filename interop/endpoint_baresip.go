package interop

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// baresipAgent is a SIP party played by baresip (Debian baresip-core), a
// native SIP UA with ICE (module ice) and DTLS-SRTP (module dtls_srtp),
// logged in as a digest user of the gateway. It runs from a generated
// config directory (`baresip -f DIR`): SIP on the deployment's client
// address (baresip's ICE skips loopback addresses, and the gateway must
// not trust it), the gateway as outbound proxy, a sine tone as its
// microphone, and the ctrl_tcp module, whose JSON commands (dial, accept,
// hangup) and events (CALL_INCOMING, CALL_RINGING,
// CALL_ESTABLISHED, CALL_CLOSED, CALL_MENC, REGISTER_OK) drive it. It
// registers when the gateway has a registrar and is then called at
// sip:<user>@<realm>; otherwise at its own address.
type baresipAgent struct {
	cmd     *exec.Cmd
	dir     string
	exited  chan struct{}
	ctrl    net.Conn
	ev      *EventLog
	tr      *Transcript
	party   string
	address string
	gw      string
	listen  string // our SIP address
	output  []string

	wmu     sync.Mutex // serialises commands
	mu      sync.Mutex
	replies chan baresipReply
	stats   MediaReport
	menc    bool
	reg     chan error
	once    sync.Once
	pollEnd chan struct{}
}

// baresipReply is a ctrl_tcp response.
type baresipReply struct {
	OK   bool   `json:"ok"`
	Data string `json:"data"`
}

func newBaresipAgent(ctx context.Context, o agentOptions) (Agent, error) {
	d := o.dep.SIP
	if d == nil || d.BaresipUser == nil || d.ClientAddr == "" || o.dep.Baresip == "" {
		return nil, errors.New("interop: no baresip, client address or digest account")
	}
	sipPort, err := freeSIPPortOn(d.ClientAddr)
	if err != nil {
		return nil, err
	}
	ctrlPort, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "interop-baresip-")
	if err != nil {
		return nil, fmt.Errorf("interop: baresip dir: %w", err)
	}
	a := &baresipAgent{dir: dir, exited: make(chan struct{}), ev: NewEventLog(), tr: o.tr, party: o.role.String(),
		gw: sipHostPort(d.proxy()), replies: make(chan baresipReply, 1), reg: make(chan error, 1),
		pollEnd: make(chan struct{})}
	register := d.Registrar && o.role == roleCallee
	a.address = "sip:" + d.BaresipUser.User + "@" + d.Realm
	if !register {
		a.address = "sip:" + d.BaresipUser.User + "@" + net.JoinHostPort(d.ClientAddr, strconv.Itoa(sipPort))
	}
	a.listen = net.JoinHostPort(d.ClientAddr, strconv.Itoa(sipPort))
	if err := a.writeConfig(d, sipPort, ctrlPort, register); err != nil {
		a.cleanup()
		return nil, err
	}
	if err := a.start(ctx, o.dep.Baresip, ctrlPort); err != nil {
		a.kill()
		return nil, err
	}
	if register {
		if err := a.waitRegistered(ctx); err != nil {
			a.kill()
			return nil, err
		}
	}
	go a.pollStats()
	return a, nil
}

// baresipConfig is baresip 1.0's config: no sound card (a 440 Hz sine as
// microphone, the aubridge module as a player that plays nowhere), RTCP
// multiplexed as WebRTC requires, ICE and DTLS-SRTP, and the sndfile
// module dumping the audio it sends and receives (decoded) to WAV files
// in the agent's directory: the media count.
const baresipConfig = `poll_method epoll
sip_listen %s
audio_player aubridge,interop-nowhere
audio_alert aubridge,interop-nowhere
audio_source ausine,440
rtcp_mux yes
module_path /usr/lib/baresip/modules
module g711.so
module opus.so
module ausine.so
module aubridge.so
module ice.so
module dtls_srtp.so
module sndfile.so
snd_path %s
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
`

func (a *baresipAgent) writeConfig(d *SIPDeployment, sipPort, ctrlPort int, register bool) error {
	listen := net.JoinHostPort(d.ClientAddr, strconv.Itoa(sipPort))
	regint := 0
	if register {
		regint = 300
	}
	acc := d.BaresipUser
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;outbound=\"sip:%s\";regint=%d;mediaenc=dtls_srtp;medianat=ice;answermode=manual;audio_codecs=opus/48000/2,PCMU\n",
		acc.User, d.Realm, acc.Password, a.gw, regint)
	if err := os.WriteFile(filepath.Join(a.dir, "config"), []byte(fmt.Sprintf(baresipConfig, listen, a.dir, ctrlPort)), 0o600); err != nil {
		return fmt.Errorf("interop: baresip config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, "accounts"), []byte(account), 0o600); err != nil {
		return fmt.Errorf("interop: baresip accounts: %w", err)
	}
	return os.WriteFile(filepath.Join(a.dir, "contacts"), nil, 0o600)
}

// start runs baresip with SIP tracing (its SIP messages become the
// transcript) and connects to its ctrl_tcp port.
func (a *baresipAgent) start(ctx context.Context, bin string, ctrlPort int) error {
	a.cmd = exec.Command(bin, "-f", a.dir, "-s")
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("interop: baresip: %w", err)
	}
	a.cmd.Stderr = a.cmd.Stdout
	if err := a.cmd.Start(); err != nil {
		return fmt.Errorf("interop: start baresip: %w", err)
	}
	go a.readTrace(out)
	addr := "127.0.0.1:" + strconv.Itoa(ctrlPort)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			a.ctrl = c
			go a.readCtrl(c)
			return nil
		}
		select {
		case <-a.exited:
			return fmt.Errorf("interop: baresip exited at start (see %s)", a.dir)
		case <-ctx.Done():
			return fmt.Errorf("interop: baresip's ctrl_tcp did not open: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readTrace turns baresip's SIP trace ("UDP 10.99.0.1:5099 -> 127.0.0.1:5060"
// then the message) into transcript lines (start line and CSeq of each
// message sent and received), keeps the rest of its output for failures,
// and notes its exit.
func (a *baresipAgent) readTrace(r io.Reader) {
	defer close(a.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	dir, start := "", ""
	for sc.Scan() {
		line := strings.TrimSpace(stripANSI(sc.Text()))
		switch {
		case baresipTraceRE.MatchString(line):
			dir = "recv"
			if strings.HasPrefix(strings.Fields(line)[1], a.listen) {
				dir = "sent"
			}
		case dir != "" && start == "" && (strings.HasPrefix(line, "SIP/2.0 ") || strings.HasSuffix(line, " SIP/2.0")):
			start = line
		case start != "" && strings.HasPrefix(strings.ToLower(line), "cseq:"):
			a.tr.Add(a.party, dir, start+" (CSeq "+strings.TrimSpace(line[5:])+")")
			dir, start = "", ""
		case dir == "" && line != "":
			a.note(line)
		}
	}
	_ = a.cmd.Wait()
}

// baresipTraceRE is the line before each traced SIP message.
var baresipTraceRE = regexp.MustCompile(`^(UDP|TCP|TLS|WS|WSS) \S+ -> \S+$`)

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// note keeps baresip's last output lines (warnings, call progress).
func (a *baresipAgent) note(line string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.output = append(a.output, line)
	if len(a.output) > 400 {
		a.output = a.output[1:]
	}
}

// readCtrl reads ctrl_tcp's netstrings: responses to commands and events.
func (a *baresipAgent) readCtrl(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		msg, err := readNetstring(br)
		if err != nil {
			a.ev.Close(fmt.Errorf("interop: baresip control connection: %w", err))
			return
		}
		var m struct {
			Event    bool   `json:"event"`
			Response bool   `json:"response"`
			Type     string `json:"type"`
			Param    string `json:"param"`
			Peer     string `json:"peeruri"`
			baresipReply
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		switch {
		case m.Response:
			select {
			case a.replies <- m.baresipReply:
			default:
			}
		case m.Event:
			a.onEvent(m.Type, m.Param, m.Peer)
		}
	}
}

// onEvent turns baresip's call events into the harness's.
func (a *baresipAgent) onEvent(typ, param, peer string) {
	switch typ {
	case "CALL_INCOMING":
		a.ev.Add(Event{Kind: EvIncoming, Detail: peer})
	case "CALL_RINGING", "CALL_PROGRESS":
		if _, ok := a.ev.Find(0, EvRinging); !ok {
			a.ev.Add(Event{Kind: EvRinging, Code: 180})
		}
	case "CALL_ESTABLISHED":
		if _, ok := a.ev.Find(0, EvIncoming); !ok {
			a.ev.Add(Event{Kind: EvAnswered})
		}
	case "CALL_MENC":
		a.mu.Lock()
		a.menc = true
		a.mu.Unlock()
	case "CALL_CLOSED":
		a.ev.Add(baresipClosed(param))
	case "REGISTER_OK":
		select {
		case a.reg <- nil:
		default:
		}
	case "REGISTER_FAIL":
		select {
		case a.reg <- fmt.Errorf("interop: baresip registration failed: %s", param):
		default:
		}
	}
}

// baresipClosed reads CALL_CLOSED's reason: "486 Busy Here" from a final
// response; "Connection reset by peer" for a BYE (a normal end); anything
// else (baresip's own errors, "Function not implemented" for a digest
// challenge it cannot answer) is a general error.
func baresipClosed(param string) Event {
	e := Event{Kind: EvEnded, Reason: "success", Code: 200, Detail: param}
	switch {
	case len(param) >= 3 && param[0] >= '3' && param[0] <= '6':
		if code, err := strconv.Atoi(param[:3]); err == nil {
			e.Code, e.Reason = code, conditionForSIP(code)
		}
	case param == "" || strings.Contains(param, "reset by peer"):
	default:
		e.Code, e.Reason = 0, "general-error"
	}
	return e
}

// readNetstring reads "<len>:<data>,".
func readNetstring(br *bufio.Reader) ([]byte, error) {
	head, err := br.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[:len(head)-1]))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// command runs one ctrl_tcp command and returns its output.
func (a *baresipAgent) command(ctx context.Context, name, params string) (string, error) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	b, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": newToken()[:8]})
	if _, err := fmt.Fprintf(a.ctrl, "%d:%s,", len(b), b); err != nil {
		return "", fmt.Errorf("interop: baresip %s: %w", name, err)
	}
	select {
	case r := <-a.replies:
		if !r.OK {
			return r.Data, fmt.Errorf("interop: baresip %s %s: %s", name, params, r.Data)
		}
		return r.Data, nil
	case <-a.exited:
		return "", fmt.Errorf("interop: baresip exited during %s", name)
	case <-ctx.Done():
		return "", fmt.Errorf("interop: baresip %s: %w", name, ctx.Err())
	}
}

// waitRegistered waits for REGISTER_OK, or for reginfo to show the
// binding (baresip may register before ctrl_tcp is connected).
func (a *baresipAgent) waitRegistered(ctx context.Context) error {
	last := ""
	for {
		select {
		case err := <-a.reg:
			return err
		case <-a.exited:
			return errors.New("interop: baresip exited before it registered")
		case <-ctx.Done():
			return fmt.Errorf("interop: baresip did not register (reginfo: %q): %w", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		out, err := a.command(ctx, "reginfo", "")
		if err != nil {
			continue
		}
		last = stripANSI(out)
		if baresipRegisteredRE.MatchString(last) {
			return nil
		}
	}
}

// baresipRegisteredRE finds a registered account in reginfo's output.
var baresipRegisteredRE = regexp.MustCompile(`\bOK\b`)

// pollStats counts, every 100 ms, the audio baresip received and decoded:
// the sndfile module writes it to dump-*-dec.wav in the agent's
// directory, one frame per 20 ms packet (ptime 20); frames count as
// packets. DTLS-SRTP up (CALL_MENC) stands for ICE connected.
func (a *baresipAgent) pollStats() {
	defer close(a.pollEnd)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-a.exited:
			return
		case <-tick.C:
		}
		n := decodedFrames(a.dir)
		a.mu.Lock()
		a.stats.Audio = n
		if a.menc {
			a.stats.ICE, a.stats.Connected = "connected", true
		}
		a.mu.Unlock()
	}
}

// decodedFrames reads the size of the decoded-audio dump: its 20 ms
// frames (from the WAV header's byte rate).
func decodedFrames(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	total := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		var hdr [44]byte
		_, err = io.ReadFull(fh, hdr[:])
		st, serr := fh.Stat()
		_ = fh.Close()
		if err != nil || serr != nil || string(hdr[0:4]) != "RIFF" {
			continue
		}
		byteRate := int(binary.LittleEndian.Uint32(hdr[28:32]))
		if frame := byteRate / 50; frame > 0 {
			total += int(st.Size()-44) / frame
		}
	}
	return total
}

// Address implements Agent.
func (a *baresipAgent) Address() string { return a.address }

// Events implements Agent.
func (a *baresipAgent) Events() *EventLog { return a.ev }

// Media implements Agent.
func (a *baresipAgent) Media() MediaEnd { return a }

// Report implements MediaEnd.
func (a *baresipAgent) Report(context.Context) (MediaReport, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats, nil
}

// Call implements Agent: dial sip:<escaped target>@<gateway>.
func (a *baresipAgent) Call(ctx context.Context, target string) error {
	uri := target
	if !strings.HasPrefix(target, "sip:") {
		uri = "sip:" + escapeSIPUser(target) + "@" + a.gw
	}
	_, err := a.command(ctx, "dial", uri)
	return err
}

// Ring implements Agent: baresip sends 180 Ringing on its own.
func (a *baresipAgent) Ring(context.Context) error { return nil }

// Answer implements Agent.
func (a *baresipAgent) Answer(ctx context.Context) error {
	_, err := a.command(ctx, "accept", "")
	return err
}

// Reject implements Agent (baresip answers 486 to a hung-up incoming call).
func (a *baresipAgent) Reject(ctx context.Context, _ Outcome) error { return a.HangUp(ctx) }

// HangUp implements Agent: BYE, or CANCEL before the answer.
func (a *baresipAgent) HangUp(ctx context.Context) error {
	_, err := a.command(ctx, "hangup", "")
	return err
}

// Reoffer implements Agent: not played by baresip in the matrix.
func (a *baresipAgent) Reoffer(context.Context, string) error {
	return errors.New("interop: the baresip agent does not re-offer")
}

// Vanish implements Agent: baresip is killed.
func (a *baresipAgent) Vanish() error {
	a.tr.Add(a.party, "sent", "<baresip killed>")
	a.kill()
	return nil
}

// Close implements Agent: quit (unregistering), then kill what is left;
// baresip's last output lines go into the transcript.
func (a *baresipAgent) Close() error {
	a.once.Do(func() {
		a.mu.Lock()
		for _, l := range a.output {
			a.tr.Add(a.party, "log", "baresip: "+l)
		}
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = a.command(ctx, "quit", "")
		cancel()
		select {
		case <-a.exited:
		case <-time.After(2 * time.Second):
		}
	})
	a.kill()
	return nil
}

// kill stops baresip's process group and removes its config directory.
func (a *baresipAgent) kill() {
	if a.cmd != nil && a.cmd.Process != nil {
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.exited
	}
	if a.ctrl != nil {
		_ = a.ctrl.Close()
	}
	a.ev.Close(errors.New("interop: baresip agent closed"))
	a.cleanup()
}

func (a *baresipAgent) cleanup() { _ = os.RemoveAll(a.dir) }

// freeSIPPortOn finds a port on host free for both UDP and TCP.
func freeSIPPortOn(host string) (int, error) {
	port, err := daemon.FreePortOn(host)
	if err != nil {
		return 0, fmt.Errorf("interop: on %s: %w", host, err)
	}
	return port, nil
}
