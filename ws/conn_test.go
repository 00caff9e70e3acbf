package ws

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
)

func TestKeepalive(t *testing.T) {
	h := newHarness(t, Config{PingInterval: 100 * time.Millisecond, PongTimeout: 300 * time.Millisecond}, gateway.Config{})
	// A client that answers pings (gorilla does by default) stays.
	alive := h.login("alive", nil)
	bob := h.login("bob", nil)

	// A client that ignores pings and sends nothing is closed and its
	// call ends.
	silent, _, err := websocket.DefaultDialer.DialContext(ctxT(t), h.url("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetPingHandler(func(string) error { return nil })
	if err := silent.WriteJSON(map[string]any{"type": "username", "name": "silent"}); err != nil {
		t.Fatal(err)
	}
	if err := silent.WriteJSON(map[string]any{"type": "video-offer", "target": "bob", "sdp": offerSDP(t)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := silent.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	expect(t, bob, "video-offer")
	m := expect(t, bob, "hang-up")
	if m.Str("name") != "silent" || m.Str("reason") != gateway.CondConnectivityError {
		t.Fatalf("bob got %v", m)
	}
	var ce *websocket.CloseError
	if err := <-closed; !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("silent client closed with %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	chatEcho(t, alive)
}
