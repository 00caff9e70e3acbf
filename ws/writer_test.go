package ws

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
)

// rawLogin dials with a plain gorilla client (it reads nothing on its
// own), logs in as name and returns the server's side of the connection.
func rawLogin(t *testing.T, h *harness, name string) (*websocket.Conn, *conn) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctxT(t), h.url("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	if err := ws.WriteJSON(map[string]any{"type": "username", "name": name}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := h.srv.dir.lookup(name); err == nil {
			return ws, c
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not log in", name)
	return nil, nil
}

// payloads are messages of sizes around the frame header's length
// boundaries (125/126, 65535/65536) and the chunk size, in a fixed order.
func payloads() [][]byte {
	sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 70000, frameChunk - 2*maxFrameHeader, frameChunk + 1, 3, 200000, 12}
	var out [][]byte
	for i, n := range sizes {
		head := fmt.Sprintf(`{"type":"message","text":"%d:`, i)
		body := strings.Repeat(string(rune('a'+i%26)), max(0, n-len(head)-2))
		out = append(out, []byte(head+body+`"}`))
	}
	return out
}

// readUntil reads messages until it has got want (in order), skipping
// the greeting and user lists; it fails on anything out of order.
func readUntil(t *testing.T, ws *websocket.Conn, want [][]byte) {
	t.Helper()
	for i := 0; i < len(want); {
		// A bound per message, not for all of them: a loaded CI box with
		// -race once took more than 20 s for TestWriterSocketFull's 16 MiB.
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		typ, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, len(want), err)
		}
		if typ != websocket.TextMessage {
			t.Fatalf("message %d: frame type %d", i, typ)
		}
		if !bytes.HasPrefix(got, []byte(`{"type":"message"`)) {
			continue // id, userlist
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("message %d: got %d bytes %.40q…, want %d bytes %.40q…", i, len(got), got, len(want[i]), want[i])
		}
		i++
	}
}

// TestWriterQueuedMessagesArriveIntact: messages that wait in the queue
// while a frame is being written (wmu held) are written together, as
// frames of one or more chunks; a gorilla client reads each as its own
// message, intact and in order, whatever its size (fragmented ones too).
func TestWriterQueuedMessagesArriveIntact(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	ws, c := rawLogin(t, h, "alice")
	want := payloads()
	c.wmu.Lock() // a ping being written: the queue fills meanwhile
	for _, m := range want {
		if !c.enqueue(m, "message") {
			t.Fatal("enqueue refused")
		}
	}
	if n := c.out.len(); n != len(want) {
		c.wmu.Unlock()
		t.Fatalf("%d queued, want %d", n, len(want))
	}
	c.wmu.Unlock()
	readUntil(t, ws, want)
	// And one at a time, each written at once by the goroutine that queued it.
	for _, m := range want {
		c.enqueue(m, "message")
	}
	readUntil(t, ws, want)
}

// TestWriterBroadcastPool: a broadcast reaches every connection through the
// writer pool, in order, with no writer goroutine per connection left.
func TestWriterBroadcastPool(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	var clients []*websocket.Conn
	for i := range 20 {
		ws, _ := rawLogin(t, h, fmt.Sprintf("u%d", i))
		clients = append(clients, ws)
	}
	want := payloads()[:6]
	for _, m := range want {
		h.srv.dir.broadcast(m)
	}
	for _, ws := range clients {
		readUntil(t, ws, want)
	}
}

// TestFrameEncoderChunks: frames never exceed a chunk, and every message
// is a text frame followed by continuations, the last with FIN.
func TestFrameEncoderChunks(t *testing.T) {
	want := payloads()
	enc := frameEncoder{msgs: append([][]byte(nil), want...)}
	var stream []byte
	for {
		buf, ok := enc.next(make([]byte, 0, frameChunk))
		if !ok {
			break
		}
		if len(buf) > frameChunk {
			t.Fatalf("chunk of %d bytes", len(buf))
		}
		stream = append(stream, buf...)
	}
	var got [][]byte
	var cur []byte
	for len(stream) > 0 {
		fin, op := stream[0]&finBit != 0, stream[0]&0xf
		n, hl := int(stream[1]&0x7f), 2
		switch n {
		case 126:
			n, hl = int(stream[2])<<8|int(stream[3]), 4
		case 127:
			n, hl = 0, 10
			for _, b := range stream[2:10] {
				n = n<<8 | int(b)
			}
		}
		if (cur == nil) != (op == opText) {
			t.Fatalf("opcode %d with a message open=%v", op, cur != nil)
		}
		cur = append(append([]byte{}, cur...), stream[hl:hl+n]...)
		stream = stream[hl+n:]
		if fin {
			got, cur = append(got, cur), nil
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
}

// TestWriterPongAndCloseEcho: the server answers a client's ping with a
// pong carrying its payload and echoes the client's close code, both
// written between whole frames of the messages queued around them.
func TestWriterPongAndCloseEcho(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	ws, c := rawLogin(t, h, "alice")
	pongs := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	want := payloads()
	for _, m := range want[:7] {
		c.enqueue(m, "message")
	}
	if err := ws.WriteControl(websocket.PingMessage, []byte("are-you-there"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, m := range want[7:] {
		c.enqueue(m, "message")
	}
	readUntil(t, ws, want) // pongs are handled while reading
	// The server's reader may answer the ping after every queued message
	// has gone out; then further messages carry the reader past the pong.
	for i := 0; ; i++ {
		select {
		case got := <-pongs:
			if got != "are-you-there" {
				t.Fatalf("pong %q", got)
			}
		default:
			if i == 500 {
				t.Fatal("no pong before 500 further messages")
			}
			marker := []byte(fmt.Sprintf(`{"type":"message","marker":%d}`, i))
			c.enqueue(marker, "message")
			readUntil(t, ws, [][]byte{marker})
			time.Sleep(10 * time.Millisecond)
			continue
		}
		break
	}
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !asCloseError(err, &ce) || ce.Code != 4000 {
			t.Fatalf("read ended with %v, want the echo of close 4000", err)
		}
		return
	}
}

// TestBatchHeldUntilEnd: what a call delivers inside a batch (an answer
// and its end-of-candidates, gateway.Batcher) waits in the queue until
// the batch ends, then goes out, intact and in order.
func TestBatchHeldUntilEnd(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	ws, c := rawLogin(t, h, "alice")
	deadline := time.Now().Add(10 * time.Second)
	for c.out.isBusy() { // the greeting and user list are written first
		if time.Now().After(deadline) {
			t.Fatal("the queue never went idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l := &leg{c: c}
	want := payloads()[:4]
	l.BeginBatch()
	l.BeginBatch() // batches nest: only the last end writes
	for _, m := range want {
		if !c.enqueue(m, "message") {
			t.Fatal("enqueue refused")
		}
	}
	l.EndBatch()
	if n := c.out.len(); n != len(want) {
		t.Fatalf("%d messages queued inside the batch, want %d (none written yet)", n, len(want))
	}
	l.EndBatch()
	readUntil(t, ws, want)
	if n := c.out.len(); n != 0 {
		t.Fatalf("%d messages left after the batch", n)
	}
}

// isBusy reports whether a writer runs or is owed.
func (q *outQueue) isBusy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy
}
