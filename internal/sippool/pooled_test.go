package sippool

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/emiago/sipgo"
)

// TestWaitPooled: the wait ends once the server serves its socket, and
// fails with the context's error for a socket nobody serves.
func TestWaitPooled(t *testing.T) {
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ua.Close() }()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().String()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitPooled(ctx, ua, addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("before serving: got %v, want context.Canceled", err)
	}

	go func() { _ = srv.ServeUDP(conn) }()
	if err := WaitPooled(context.Background(), ua, addr); err != nil {
		t.Fatalf("after serving: %v", err)
	}
}
