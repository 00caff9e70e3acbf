package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
)

// TestReadyzWithRtpengineDown: rtpengine's health shows in
// sigbridge_rtpengine_up{instance}, not in /readyz: with the only instance
// killed the gauge drops to 0 and comes back to 1 when it returns, while
// /readyz stays 200 (calls that need no anchoring still work).
func TestReadyzWithRtpengineDown(t *testing.T) {
	r := rtpenginetest.Start(t)
	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.RTPEngine.NG = []string{r.NG}
	cfg.RTPEngine.Timeout = 300 * time.Millisecond
	cfg.RTPEngine.PingInterval = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, "error"), started) }()
	s := <-started
	defer func() { cancel(); <-done }()
	base := "http://" + s.addr
	gauge := `sigbridge_rtpengine_up{instance="` + r.NG + `"} `
	waitGauge := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, body := get(t, base+"/metrics")
			if strings.Contains(body, gauge+want+"\n") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics has no %q", gauge+want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "ready") {
			t.Fatalf("/readyz with %s%s: %d %q", gauge, want, code, body)
		}
	}
	waitGauge("1")
	r.Kill()
	waitGauge("0")
	r.Restart(t)
	waitGauge("1")
}
