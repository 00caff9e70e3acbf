package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// drainPairs is the number of live SIP dialogs of each direction.
const drainPairs = 50

// drainAnswer is a browser's answer to a SIP caller's offer (signaling
// only: no media flows in this test).
const drainAnswer = "v=0\r\no=- 2 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:efgh\r\n" +
	"a=ice-pwd:efghijklmnopqrstuvwxyzab\r\na=fingerprint:sha-256 00:22\r\na=setup:active\r\n" +
	"a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"

// TestServeDrainByesEverySIPDialog: serve with 50 SIP dialogs up in each
// direction (a SIPp UAC calling 50 browser users, 50 browser users calling
// a SIPp UAS); the context ends (SIGTERM) and serve returns only after
// both SIPp peers have received all 100 BYEs.
func TestServeDrainByesEverySIPDialog(t *testing.T) {
	uas := startSIPpScenario(t, "uas_drain.xml", "", "-m", strconv.Itoa(drainPairs), "-l", strconv.Itoa(drainPairs))
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DrainTimeout = 3 * time.Second
	cfg.Gateway.GatherQuiet = 50 * time.Millisecond
	cfg.Gateway.GatherMax = 300 * time.Millisecond
	cfg.Gateway.MaxCallsPerUser = 2 * drainPairs // one SIPp UAC places them all
	cfg.SIP = sip.Config{Listen: "127.0.0.1:0", TrustedSources: []string{"127.0.0.1"}, DialogProbeInterval: -1,
		MaxCallsPerUser: 2 * drainPairs, CallsPerSecond: 1000, CallsBurst: 2 * drainPairs,
		Routes: []sip.Route{{Name: "sipp", Match: `^sip:bob@127\.0\.0\.1:[0-9]+$`, AllowPrivate: true}}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	started := make(chan *server, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, jsipLogger(t), started) }()
	var s *server
	select {
	case s = <-started:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("sigbridge did not start")
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	url := "ws://" + s.addr + "/ws"
	uac := startSIPpScenario(t, "uac_drain_users.xml", s.sip.Addr(), "-inf", answeringCallees(wctx, t, url),
		"-m", strconv.Itoa(drainPairs), "-l", strconv.Itoa(drainPairs), "-r", "50")
	for i, caller := range loginAll(wctx, t, url, "caller", drainPairs) {
		if err := caller.Send(map[string]any{"type": "video-offer", "target": "sip:bob@" + uas.addr, "sdp": drainOffer}); err != nil {
			t.Fatal(err)
		}
		if _, err := caller.ExpectType(wctx, "video-answer"); err != nil {
			t.Fatalf("caller%d: %v", i, err)
		}
	}
	for s.gw.ActiveCalls() < 2*drainPairs {
		if wctx.Err() != nil {
			t.Fatalf("%d calls up, want %d", s.gw.ActiveCalls(), 2*drainPairs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}
	// serve has returned: the process would exit now.
	if got := countReceived(uas.messages(), "BYE"); got != drainPairs {
		t.Errorf("SIPp UAS (browser callers) received %d BYEs, want %d", got, drainPairs)
	}
	if got := countReceived(uac.messages(), "BYE"); got != drainPairs {
		t.Errorf("SIPp UAC (browser callees) received %d BYEs, want %d", got, drainPairs)
	}
}

// answeringCallees logs in drainPairs browser users that answer one call
// each, and returns a SIPp injection file naming them.
func answeringCallees(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	lines := []string{"SEQUENTIAL"}
	for _, c := range loginAll(ctx, t, url, "callee", drainPairs) {
		go func() {
			offer, err := c.ExpectType(ctx, "video-offer")
			if err == nil {
				_ = c.Send(map[string]any{"type": "video-answer", "target": offer.Str("name"), "sdp": drainAnswer})
			}
		}()
		lines = append(lines, c.Name+";")
	}
	path := filepath.Join(t.TempDir(), "callees.csv")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loginAll logs in n browser users prefix0..prefix<n-1> at once (the user
// list that confirms a login comes at most once a second).
func loginAll(ctx context.Context, t *testing.T, url, prefix string, n int) []*wstest.Client {
	t.Helper()
	cs := make([]*wstest.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := wstest.Dial(ctx, url, nil)
			if err == nil {
				cs[i] = c
				_, err = c.Login(ctx, prefix+strconv.Itoa(i), nil)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, c := range cs {
		if c != nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("%s%d: %v", prefix, i, errs[i])
		}
	}
	return cs
}

// countReceived counts the distinct Call-IDs of the requests named method
// in a SIPp message log.
func countReceived(log, method string) int {
	re := regexp.MustCompile(`(?s)message received \[\d+\] bytes :\s*\n\s*\n` + regexp.QuoteMeta(method) +
		` [^\n]*\n.*?Call-ID: ([^\r\n]+)`)
	ids := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		ids[strings.TrimSpace(m[1])] = true
	}
	return len(ids)
}
