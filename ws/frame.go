package ws

import "sync"

// Server → client data frames are written by this package, not by
// gorilla/websocket's WriteMessage (one write system call per message):
// the writer encodes every message it finds queued into one buffer and
// writes it with one call. A server's frames are unmasked (RFC 6455 §5.1):
// a 2-10 byte header, then the payload.
const (
	opContinuation = 0x0
	opText         = 0x1
	finBit         = 0x80

	maxFrameHeader = 10
	// frameChunk is the most one write carries: several small messages
	// share a chunk; a message that does not fit in one is sent as
	// fragments (a text frame without FIN, then continuation frames), as
	// gorilla does with its write buffer.
	frameChunk = 16 << 10
	// minFragment: a message is not split to fill the last few bytes of
	// a chunk that holds other messages.
	minFragment = 1 << 10
)

// appendFrameHeader appends the header of an unmasked frame with an n-byte
// payload.
func appendFrameHeader(b []byte, fin bool, op byte, n int) []byte {
	b0 := op
	if fin {
		b0 |= finBit
	}
	switch {
	case n < 126:
		return append(b, b0, byte(n))
	case n <= 0xffff:
		return append(b, b0, 126, byte(n>>8), byte(n))
	default:
		return append(b, b0, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// chunks are the buffers frames are encoded into (frameChunk each).
var chunks = sync.Pool{New: func() any { b := make([]byte, 0, frameChunk); return &b }}

// frameEncoder turns queued messages into chunks of text frames: next
// fills the chunk with as many frames as fit and reports false once every
// message is in a chunk.
type frameEncoder struct {
	msgs [][]byte
	off  int // bytes of msgs[0] already encoded (a fragmented message)
}

// next encodes into buf[:0] and returns it; ok is false when nothing was
// left to encode.
func (e *frameEncoder) next(buf []byte) (out []byte, ok bool) {
	out = buf[:0]
	for len(e.msgs) > 0 {
		m := e.msgs[0]
		rest := len(m) - e.off
		space := frameChunk - len(out) - maxFrameHeader
		if rest > space && len(out) > 0 && (e.off > 0 || rest <= frameChunk-maxFrameHeader || space < minFragment) {
			break // the rest of it goes into the next chunk
		}
		n := min(rest, space)
		op := byte(opText)
		if e.off > 0 {
			op = opContinuation
		}
		out = appendFrameHeader(out, n == rest, op, n)
		out = append(out, m[e.off:e.off+n]...)
		if n == rest {
			e.msgs[0] = nil // the queue's memory goes as soon as it is written
			e.msgs, e.off = e.msgs[1:], 0
		} else {
			e.off += n
		}
	}
	return out, len(out) > 0
}
