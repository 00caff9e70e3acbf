package ws

import (
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

// maskedFrame is a client's text frame (FIN, mask key zero) for a short
// payload.
func maskedFrame(payload string) []byte {
	if len(payload) > 125 {
		panic("maskedFrame: payload over 125 bytes")
	}
	return append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// TestReaderKeepsBufferedBurst: messages that arrive in one write are read
// from the socket at once into the connection's read buffer; the reader
// handles them all itself and hands reading on once, after the last. Asked
// alone, the kernel's receive queue is empty after that one read, and the
// reader used to hand on after each message.
func TestReaderKeepsBufferedBurst(t *testing.T) {
	handOns := make(chan int, 16)
	h := newHarness(t, Config{onHandOn: func(n int) { handOns <- n }}, gateway.Config{})
	c := h.dial(nil)
	if _, err := c.WaitID(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Chat before login: each is refused with an error, and none ends a
	// burst (lastOfBurst).
	const n = 3
	var burst []byte
	for range n {
		burst = append(burst, maskedFrame(`{"type":"message","text":"hi"}`)...)
	}
	if _, err := c.Conn.NetConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	for range n {
		expectError(t, c, 401, "message")
	}
	select {
	case got := <-handOns:
		if got != n {
			t.Fatalf("the reader handed on after %d messages of the burst of %d", got, n)
		}
	case <-ctxT(t).Done():
		t.Fatal("the reader never handed on")
	}
}
