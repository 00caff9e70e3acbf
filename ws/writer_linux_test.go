package ws

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestWriterSocketFull: a client that stops reading fills its socket; the
// write that stops halfway hands the rest to a writer that waits for the
// socket, and once the client reads again every message arrives intact and
// in order.
func TestWriterSocketFull(t *testing.T) {
	h := newHarness(t, Config{SendQueue: 4096}, gateway.Config{})
	ws, c := rawLogin(t, h, "alice")
	if !c.sock.canWriteNow() {
		t.Fatal("no non-blocking write on a Linux socket (socket_linux.go)")
	}
	big := bytes.Repeat([]byte("x"), 256<<10)
	var want [][]byte
	for i := range 64 { // 16 MiB: more than loopback's socket buffers hold
		m := append([]byte(fmt.Sprintf(`{"type":"message","text":"%d:`, i)), big...)
		want = append(want, append(m, `"}`...))
	}
	for _, m := range want {
		if !c.enqueue(m, "message") {
			t.Fatal("enqueue refused")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), "socket full") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(h.logs.String(), "socket full") {
		t.Fatal("the socket never filled: no write stopped halfway")
	}
	readUntil(t, ws, want)
}
