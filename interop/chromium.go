package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// chromiumArgs run a headless Chromium fit for WebRTC tests: fake camera
// and microphone granted without a prompt, raw IPs instead of mDNS names,
// loopback candidates allowed.
var chromiumArgs = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
	"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
	"--disable-features=WebRtcHideLocalIpsWithMdns", "--allow-loopback-in-peer-connection",
	"--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0",
}

// chromiumProc is one headless Chromium with a DevTools connection to its
// first page.
type chromiumProc struct {
	cmd    *exec.Cmd
	dir    string
	cdp    *cdpConn
	exited chan struct{}
}

// startChromium starts Chromium on pageURL in a fresh profile and connects
// to the page over DevTools.
func startChromium(ctx context.Context, bin, pageURL string) (*chromiumProc, error) {
	dir, err := os.MkdirTemp("", "interop-chromium-")
	if err != nil {
		return nil, fmt.Errorf("interop: chromium profile: %w", err)
	}
	args := append(append([]string{}, chromiumArgs...), "--user-data-dir="+dir, pageURL)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers die with it (see kill)
	p := &chromiumProc{cmd: cmd, dir: dir, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("interop: start chromium: %w", err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	if err := p.connect(ctx); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// connect reads the DevTools port Chromium wrote into its profile, finds
// the page target and opens its WebSocket.
func (p *chromiumProc) connect(ctx context.Context) error {
	port, err := p.devtoolsPort(ctx)
	if err != nil {
		return err
	}
	for {
		url, err := pageTarget(ctx, port)
		if err == nil {
			p.cdp, err = dialCDP(ctx, url)
			return err
		}
		if err := p.pause(ctx, "chromium page target: "+err.Error()); err != nil {
			return err
		}
	}
}

func (p *chromiumProc) devtoolsPort(ctx context.Context) (string, error) {
	file := filepath.Join(p.dir, "DevToolsActivePort")
	for {
		if b, err := os.ReadFile(file); err == nil {
			if port, _, ok := strings.Cut(string(b), "\n"); ok && port != "" {
				return port, nil
			}
		}
		if err := p.pause(ctx, "chromium did not open its DevTools port"); err != nil {
			return "", err
		}
	}
}

// pause waits a little, failing if Chromium exited or ctx ended.
func (p *chromiumProc) pause(ctx context.Context, what string) error {
	select {
	case <-p.exited:
		return fmt.Errorf("interop: chromium exited: %s", what)
	case <-ctx.Done():
		return fmt.Errorf("interop: %s: %w", what, ctx.Err())
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}

// pageTarget returns the DevTools WebSocket URL of the first page.
func pageTarget(ctx context.Context, port string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/json/list", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var targets []struct {
		Type string `json:"type"`
		URL  string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		return "", err
	}
	for _, t := range targets {
		if t.Type == "page" && t.URL != "" {
			return t.URL, nil
		}
	}
	return "", errors.New("no page yet")
}

// kill stops Chromium and its helper processes (its process group), waits
// for it and removes the profile.
func (p *chromiumProc) kill() {
	if p.cdp != nil {
		_ = p.cdp.close()
	}
	if pid := p.cmd.Process.Pid; pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.exited
		}
	}
	_ = os.RemoveAll(p.dir)
}
