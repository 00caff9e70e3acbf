//go:build linux

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/ws/wstest"
)

// TestSIGTERMDrainsLiveCalls runs the real binary, puts a call up between two
// browser-dialect clients, sends SIGTERM and checks that both parties are hung
// up with the shutdown reason and that the process exits 0.
func TestSIGTERMDrainsLiveCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := buildSigbridge(ctx, t, dir)
	cfg := filepath.Join(dir, "sigbridge.yaml")
	if err := os.WriteFile(cfg, []byte("drain_timeout: 300ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 256)
	addr := waitServing(t, bufio.NewScanner(stderr), logs)
	alice, bob := loginPair(ctx, t, "ws://"+addr+"/ws")
	if err := alice.Send(map[string]any{"type": "video-offer", "target": "bob", "sdp": drainOffer}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.ExpectType(ctx, "video-offer"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		m, err := c.ExpectType(ctx, "hang-up")
		if err != nil || m.Str("reason") != "general-error" || m.Int("code") != 503 {
			t.Fatalf("hang-up at drain: %v %v", m, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sigbridge exit after SIGTERM: %v", err)
	}
	if all := drain(logs); !strings.Contains(all, "draining") || !strings.Contains(all, "stopped") {
		t.Fatalf("drain not logged:\n%s", all)
	}
}

var servingRE = regexp.MustCompile(`msg="sigbridge serving" http=(\S+)`)

// waitServing reads the log until the listen address appears; the rest of
// the log keeps flowing into logs.
func waitServing(t *testing.T, sc *bufio.Scanner, logs chan<- string) string {
	t.Helper()
	addr := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
			select {
			case logs <- sc.Text():
			default:
			}
		}
		close(logs)
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("sigbridge did not start serving")
		return ""
	}
}

func drain(logs <-chan string) string {
	var b strings.Builder
	for l := range logs {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func loginPair(ctx context.Context, t *testing.T, url string) (*wstest.Client, *wstest.Client) {
	t.Helper()
	var cs []*wstest.Client
	for _, name := range []string{"alice", "bob"} {
		c, _, err := wstest.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Login(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs[0], cs[1]
}

const drainOffer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n" +
	"a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
