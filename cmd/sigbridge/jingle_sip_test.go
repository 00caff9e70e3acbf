package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"mellium.im/xmpp/jid"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/sipptest"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/xmpp"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// Cross-adapter end to end: a Jingle client (xmpptest, logged in to a real
// Prosody) calls a SIP target answered by SIPp through an in-process
// sigbridge (serve) that runs the XMPP adapter as Prosody's component and
// the SIP adapter with a route to SIPp on loopback.

const jsipUser, jsipPass = "romeo", "romeo-pw"

// jingleSIPEnv is Prosody + sigbridge (xmpp component + sip) for one test.
type jingleSIPEnv struct {
	p   *xmpptest.Prosody
	srv *server
}

func newJingleSIPEnv(t *testing.T) *jingleSIPEnv {
	t.Helper()
	needSIPpBinary(t) // fail early, before Prosody starts
	return newJingleSIPEnvWith(t, nil)
}

// newJingleSIPEnvWith is newJingleSIPEnv whose configuration edit changes
// before sigbridge starts.
func newJingleSIPEnvWith(t *testing.T, edit func(*Config)) *jingleSIPEnv {
	t.Helper()
	p := xmpptest.StartProsody(t, xmpptest.ProsodyConfig{Users: map[string]string{jsipUser: jsipPass}})
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DrainTimeout = time.Second
	cfg.Gateway.GatherQuiet = 300 * time.Millisecond
	cfg.Gateway.GatherMax = 1500 * time.Millisecond
	cfg.SIP = sip.Config{Listen: "127.0.0.1:0", Routes: []sip.Route{{
		Name: "sipp", Match: `^sip:bob@127\.0\.0\.1:[0-9]+$`, AllowPrivate: true,
		// SIPp listens on UDP only; without an explicit transport the
		// large WebRTC INVITE would switch to TCP (RFC 3261 §18.1.1).
		Transport: "udp"}}}
	cfg.XMPP = xmpp.Config{Component: xmpp.ComponentConfig{Addr: p.ComponentAddr, Domain: p.Cfg.Component,
		Secret: p.Cfg.Secret}, IQTimeout: 5 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, jsipLogger(t), started) }()
	var s *server
	select {
	case s = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("sigbridge did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("sigbridge did not stop")
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer wcancel()
	if err := s.xmpp.WaitConnected(wctx); err != nil {
		t.Fatalf("component not connected: %v\n%s", err, p.LogTail())
	}
	return &jingleSIPEnv{p: p, srv: s}
}

// target is the gateway JID of sip:bob@<sippAddr>: the local part is
// XEP-0106 escaped ("@" -> \40, ":" -> \3a; a raw ":" is not allowed in a
// local part).
func (e *jingleSIPEnv) target(t *testing.T, sippAddr string) jid.JID {
	t.Helper()
	j, err := jid.New(xmpp.EscapeLocal("bob@"+sippAddr), e.p.Cfg.Component, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `bob\40127.0.0.1\3a`; !strings.HasPrefix(j.Localpart(), want) {
		t.Fatalf("local part %q, want %s<port>", j.Localpart(), want)
	}
	return j
}

func (e *jingleSIPEnv) login(t *testing.T, ctx context.Context) *xmpptest.Client {
	t.Helper()
	c, err := xmpptest.Login(ctx, e.p.C2SAddr, e.p.JID(jsipUser), jsipPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A Jingle client calls sip:bob@SIPp: JMI proceed, session-initiate acked,
// SIPp gets an INVITE with a complete SDP (candidates folded,
// end-of-candidates, no mDNS), the 200's SDP reaches the client as
// session-accept, and the client's terminate becomes a BYE.
func TestJingleSIPAnswered(t *testing.T) {
	e := newJingleSIPEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	uas := startSIPpUAS(t, "uas_answer.xml")
	romeo := e.login(t, ctx)
	to := e.target(t, uas.addr)

	// Client.Call returns only after proceed, an acked session-initiate and
	// the session-accept applied to the pion peer.
	call, err := romeo.Call(ctx, to, xmpptest.CallOptions{})
	if err != nil {
		t.Fatalf("call: %v\n%s", err, uas.Logs())
	}
	t.Cleanup(call.Close)
	if !call.Remote.Bare().Equal(to) {
		t.Errorf("proceed came from %s, want %s", call.Remote, to)
	}
	rd := call.Media.PC.RemoteDescription()
	if rd == nil {
		t.Fatal("no remote description after session-accept")
	}
	checkSIPpAnswerConverted(t, rd.SDP)

	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatalf("session-terminate: %v", err)
	}
	uas.wait(t) // the scenario ends only after BYE -> 200
	msgs := uas.messages()
	if !regexp.MustCompile(`(?m)^BYE sip:`).MatchString(msgs) {
		t.Errorf("SIPp got no BYE\n%s", msgs)
	}
	checkInviteSDP(t, msgs)
	waitNoCalls(t, e.srv)
}

// SIPp answers 486: the Jingle client gets session-terminate busy.
func TestJingleSIPBusy(t *testing.T) {
	e := newJingleSIPEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	uas := startSIPpUAS(t, "uas_busy.xml")
	romeo := e.login(t, ctx)
	_, err := romeo.Call(ctx, e.target(t, uas.addr), xmpptest.CallOptions{})
	if !errors.Is(err, xmpptest.ErrTerminated) || !strings.HasSuffix(err.Error(), ": busy") {
		t.Fatalf("call answered 486: %v, want session-terminate busy", err)
	}
	uas.wait(t)
	waitNoCalls(t, e.srv)
}

// A JMI propose to a SIP target that the SIP adapter's egress policy
// refuses (no route for it) is answered reject decline, in
// urn:xmpp:jingle:1, not proceed; no INVITE is sent.
func TestJingleSIPEgressRefusedAtPropose(t *testing.T) {
	e := newJingleSIPEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	romeo := e.login(t, ctx)
	to, err := jid.New(xmpp.EscapeLocal("bob@203.0.113.9"), e.p.Cfg.Component, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := romeo.SendJMI(ctx, to, "propose", "egress-1", "", "audio"); err != nil {
		t.Fatal(err)
	}
	ev, err := romeo.Expect(ctx, func(ev xmpptest.Event) bool {
		return ev.JMI != nil && ev.JMI.ID == "egress-1" && ev.JMI.Name != "propose"
	})
	if err != nil {
		t.Fatalf("no answer to the propose: %v", err)
	}
	if ev.JMI.Name != "reject" || ev.JMI.Reason != "decline" || ev.JMI.ReasonNS != jingle.NSJingle {
		t.Errorf("answer %+v, want reject decline in %s", ev.JMI, jingle.NSJingle)
	}
	waitNoCalls(t, e.srv)
}

// The Jingle client puts the SIP call on hold: SIPp gets a re-INVITE whose
// complete SDP has every stream sendonly (and the client's candidates, no
// trickle), answers recvonly, and the call goes on until the BYE.
func TestJingleSIPHold(t *testing.T) {
	e := newJingleSIPEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	sf := filepath.Join(t.TempDir(), "uas_hold.xml")
	if err := os.WriteFile(sf, []byte(uasHoldScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	uas := startSIPpUAS(t, sf)
	romeo := e.login(t, ctx)
	call, err := romeo.Call(ctx, e.target(t, uas.addr), xmpptest.CallOptions{})
	if err != nil {
		t.Fatalf("call: %v\n%s", err, uas.Logs())
	}
	t.Cleanup(call.Close)
	if err := call.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	// SIPp checks the re-INVITE (sendonly, no sendrecv) itself; wait until
	// its 200 went out, then hang up.
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(uas.messages(), "INVITE sip:") < 2 || !strings.Contains(uas.messages(), "a=recvonly") {
		if time.Now().After(deadline) {
			t.Fatalf("no re-INVITE answered\n%s", uas.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The re-INVITE's ACK must reach SIPp before our BYE (its scenario
	// wants them in that order): wait for it rather than a fixed 200 ms.
	for strings.Count(uas.messages(), "ACK sip:") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no ACK of the re-INVITE's 200\n%s", uas.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	uas.wait(t)
	msgs := strings.ReplaceAll(uas.messages(), "\r\n", "\n")
	i := strings.LastIndex(msgs, "\nINVITE sip:")
	reinvite := inviteBody(msgs[i:])
	if reinvite == "" {
		t.Fatalf("no re-INVITE body\n%s", msgs)
	}
	t.Logf("re-INVITE SDP as SIPp got it:\n%s", reinvite)
	sd, err := parseLooseSDP(reinvite)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sd.MediaDescriptions {
		if _, ok := m.Attribute("sendonly"); !ok {
			t.Errorf("re-INVITE m-line without a=sendonly:\n%s", reinvite)
		}
		if _, ok := m.Attribute("end-of-candidates"); !ok || len(candidateLines(m)) == 0 {
			t.Errorf("re-INVITE SDP not complete (candidates, end-of-candidates):\n%s", reinvite)
		}
	}
	if strings.Contains(reinvite, "trickle") || sd.Origin.SessionVersion < 2 {
		t.Errorf("re-INVITE SDP: trickle or o= not bumped:\n%s", reinvite)
	}
	waitNoCalls(t, e.srv)
}

func candidateLines(m *sdp.MediaDescription) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key == "candidate" {
			out = append(out, a.Value)
		}
	}
	return out
}

// uasHoldScenario answers the INVITE, then a re-INVITE that must put every
// stream sendonly (check_it fails the scenario otherwise), with recvonly.
const uasHoldScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas answers, then answers a hold re-INVITE">
  <recv request="INVITE" crlf="true" rrs="true"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP4 [local_ip]
      s=-
      t=0 0
      a=group:BUNDLE 0
      m=audio [media_port] UDP/TLS/RTP/SAVPF 111
      c=IN IP4 [local_ip]
      a=ice-ufrag:sipp
      a=ice-pwd:sippsippsippsippsippsipp
      a=fingerprint:sha-256 3C:2E:D8:EC:35:7C:BF:01:07:A6:ED:92:3F:DA:28:66:F3:90:7A:77:D8:63:D9:FD:FD:D9:ED:74:7B:F3:3F:4A
      a=setup:active
      a=mid:0
      a=rtcp-mux
      a=sendrecv
      a=rtpmap:111 opus/48000/2
      a=candidate:1 1 udp 2130706431 [local_ip] 40100 typ host
      a=end-of-candidates

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="held"/>
      <ereg regexp="a=sendrecv" search_in="body" check_it_inverse="true" assign_to="notboth"/>
    </action>
  </recv>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      X-Held: [$held]
      X-Not-Both: [$notboth]
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 2 IN IP4 [local_ip]
      s=-
      t=0 0
      a=group:BUNDLE 0
      m=audio [media_port] UDP/TLS/RTP/SAVPF 111
      c=IN IP4 [local_ip]
      a=ice-ufrag:sipp
      a=ice-pwd:sippsippsippsippsippsipp
      a=fingerprint:sha-256 3C:2E:D8:EC:35:7C:BF:01:07:A6:ED:92:3F:DA:28:66:F3:90:7A:77:D8:63:D9:FD:FD:D9:ED:74:7B:F3:3F:4A
      a=setup:active
      a=mid:0
      a=rtcp-mux
      a=recvonly
      a=rtpmap:111 opus/48000/2
      a=candidate:1 1 udp 2130706431 [local_ip] 40100 typ host
      a=end-of-candidates

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Length: [len]

    ]]>
  </send>
  <timewait milliseconds="500"/>
</scenario>
`

// checkSIPpAnswerConverted checks the SDP the client built from
// session-accept: SIPp's credentials, DTLS role and candidate survived.
func checkSIPpAnswerConverted(t *testing.T, s string) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		t.Fatalf("answer SDP: %v", err)
	}
	if len(sd.MediaDescriptions) != 1 {
		t.Fatalf("answer has %d m-lines, want 1:\n%s", len(sd.MediaDescriptions), s)
	}
	m := sd.MediaDescriptions[0]
	for key, want := range map[string]string{"ice-ufrag": "sipp", "ice-pwd": "sippsippsippsippsippsipp", "setup": "active"} {
		if v, _ := m.Attribute(key); v != want {
			t.Errorf("answer a=%s:%q, want %q\n%s", key, v, want, s)
		}
	}
	if fp, _ := m.Attribute("fingerprint"); !strings.HasPrefix(fp, "sha-256 3C:2E:D8") {
		t.Errorf("answer fingerprint %q", fp)
	}
	if !strings.Contains(s, " 127.0.0.1 40100 typ host") {
		t.Errorf("SIPp's candidate missing from the answer:\n%s", s)
	}
	if m.MediaName.Media != "audio" || len(m.MediaName.Formats) != 1 || m.MediaName.Formats[0] != "111" {
		t.Errorf("answer m-line %v", m.MediaName)
	}
}

// checkInviteSDP checks the INVITE SIPp received: a complete SDP (half
// trickle folded the client's candidates in and ended them), no mDNS, no
// trickle option, a default address from a candidate.
func checkInviteSDP(t *testing.T, msgs string) {
	t.Helper()
	body := inviteBody(msgs)
	if body == "" {
		t.Fatalf("no INVITE with SDP in SIPp's trace:\n%s", msgs)
	}
	t.Logf("INVITE SDP as SIPp got it:\n%s", body)
	sd, err := parseLooseSDP(body)
	if err != nil {
		t.Fatalf("INVITE SDP: %v\n%s", err, body)
	}
	if len(sd.MediaDescriptions) == 0 {
		t.Fatalf("INVITE SDP without m-lines:\n%s", body)
	}
	m := sd.MediaDescriptions[0]
	var cands int
	for _, a := range m.Attributes {
		if a.Key != "candidate" {
			continue
		}
		cands++
		v := a.Value
		if strings.HasPrefix(v, "candidate:") {
			t.Errorf("folded candidate has a doubled prefix: a=candidate:%s", v)
		}
		c, err := gateway.ParseCandidate(v)
		switch {
		case err != nil:
			t.Errorf("malformed candidate sent to SIP: a=candidate:%s: %v", a.Value, err)
		case c.IsMDNS():
			t.Errorf("mDNS candidate sent to SIP: %s", a.Value)
		case c.Address != "127.0.0.1" || c.Type != "host":
			t.Errorf("unexpected candidate %s (the client gathers loopback host candidates only)", a.Value)
		}
	}
	if cands == 0 {
		t.Errorf("INVITE SDP has no candidates (not folded):\n%s", body)
	}
	if _, ok := m.Attribute("end-of-candidates"); !ok {
		if _, ok := sd.Attribute("end-of-candidates"); !ok {
			t.Errorf("INVITE SDP lacks a=end-of-candidates:\n%s", body)
		}
	}
	if strings.Contains(body, "trickle") {
		t.Errorf("INVITE SDP still advertises trickle:\n%s", body)
	}
	if m.MediaName.Port.Value == 9 || m.MediaName.Port.Value == 0 {
		t.Errorf("INVITE m-line port %d: no default candidate address", m.MediaName.Port.Value)
	}
	for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint", "setup"} {
		if _, ok := m.Attribute(key); !ok {
			if _, ok := sd.Attribute(key); !ok {
				t.Errorf("INVITE SDP lacks a=%s", key)
			}
		}
	}
}

// inviteBody extracts the body of the first INVITE in a SIPp message trace.
func inviteBody(msgs string) string {
	msgs = strings.ReplaceAll(msgs, "\r\n", "\n")
	i := strings.Index(msgs, "\nINVITE sip:")
	if i < 0 {
		return ""
	}
	rest := msgs[i+1:]
	head, body, ok := strings.Cut(rest, "\n\n")
	if !ok || !strings.Contains(strings.ToLower(head), "application/sdp") {
		return ""
	}
	n := 0
	for _, h := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(h, ":")
		if k = strings.ToLower(strings.TrimSpace(k)); k == "content-length" || k == "l" {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	// Content-Length counts CRLF line ends; the trace may have kept them.
	lines := strings.Split(body, "\n")
	var b strings.Builder
	for _, l := range lines {
		if b.Len() >= n || l == "" || !strings.Contains(l, "=") || len(l) < 2 || l[1] != '=' {
			break
		}
		b.WriteString(l + "\r\n")
	}
	return b.String()
}

func parseLooseSDP(s string) (*sdp.SessionDescription, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return nil, err
	}
	return &sd, nil
}

// waitNoCalls waits until the gateway has no call left.
func waitNoCalls(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.gw.ActiveCalls() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls left", s.gw.ActiveCalls())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- SIPp ----

// sippUAS is one SIPp process (internal/sipptest) running a scenario of
// sip/testdata/sipp; it is killed at test end.
type sippUAS struct {
	*sipptest.SIPp
	addr string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// needSIPpBinary fails the test when sipp is missing (never skips).
func needSIPpBinary(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp not found (%v): %s", err, sipptest.TestCommandHint)
	}
}

// startSIPpUAS runs a scenario of sip/testdata/sipp, or the scenario file
// at an absolute path, for one call; it listens when startSIPpUAS returns.
func startSIPpUAS(t *testing.T, scenario string) *sippUAS {
	t.Helper()
	return startSIPpScenario(t, scenario, "")
}

// startSIPpScenario runs a scenario as startSIPpUAS does; remote is the
// address a UAC scenario calls ("" for a UAS), extra overrides arguments
// ("-m", "5").
func startSIPpScenario(t *testing.T, scenario, remote string, extra ...string) *sippUAS {
	t.Helper()
	sf := scenario
	if !filepath.IsAbs(sf) {
		var err error
		if sf, err = filepath.Abs(filepath.Join("..", "..", "sip", "testdata", "sipp", scenario)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(sf); err != nil {
		t.Fatal(err)
	}
	s := sipptest.StartT(t, sipptest.Options{Scenario: sf, Dir: t.TempDir(), Remote: remote, Host: "127.0.0.1",
		Timeout: 40 * time.Second, TraceMessages: true, Extra: extra})
	return &sippUAS{SIPp: s, addr: s.Addr}
}

// wait expects SIPp to finish its call(s) successfully.
func (u *sippUAS) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := u.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("sipp did not finish\n%s", u.Logs())
		}
		t.Fatalf("sipp failed: %v\n%s", err, u.Logs())
	}
}

// messages is what SIPp sent and received so far ("" before its first).
func (u *sippUAS) messages() string {
	m, _ := u.MessageLog()
	return m
}

// jsipLogger logs sigbridge to the test while it runs (debug with
// SIGBRIDGE_TEST_DEBUG set, else warnings).
func jsipLogger(t *testing.T) *slog.Logger {
	w := &jsipWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	level := "warn"
	if os.Getenv("SIGBRIDGE_TEST_DEBUG") != "" {
		level = "debug"
	}
	return newLogger(w, level)
}

type jsipWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *jsipWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
