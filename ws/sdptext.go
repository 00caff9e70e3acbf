package ws

import (
	"bytes"
	"encoding/json"
	"sync"
	"unsafe"
)

// setSDPText sets SDP from raw, which must be a JSON string. An SDP in
// JSON has escapes (every line end is \r\n): its text is decoded into a
// pooled buffer, which releaseSDP returns once the SDP is parsed
// (gateway.ParseSDP copies what it keeps: fastsdp the whole text once,
// pion/sdp each field), instead of a new string of the SDP's size per
// message. Such an SDP must not go to gateway.ParseSDPString, whose result
// would share the buffer.
func (m *clientMessage) setSDPText(raw json.RawMessage) bool {
	if len(raw) < 2 || raw[0] != '"' || bytes.IndexByte(raw, '\\') < 0 {
		s, ok := jsonString(raw)
		m.SDP = s
		return ok
	}
	m.releaseSDP()
	bp := sdpBufs.Get().(*[]byte)
	b, ok := appendUnquoted((*bp)[:0], raw[1:len(raw)-1])
	if !ok {
		sdpBufs.Put(bp)
		return false
	}
	*bp = b
	m.sdpBuf = bp
	m.SDP = unsafe.String(unsafe.SliceData(b), len(b))
	return true
}

// releaseSDP gives SDP's buffer back to the pool. The caller calls it
// once SDP was parsed without error (a parse error may keep the text) and
// nothing reads SDP any more.
func (m *clientMessage) releaseSDP() {
	if m.sdpBuf == nil {
		return
	}
	if cap(*m.sdpBuf) <= maxPooledSDPBuf {
		sdpBufs.Put(m.sdpBuf)
	}
	m.sdpBuf, m.SDP = nil, ""
}

// sdpBufs holds the buffers of setSDPText.
var sdpBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledSDPBuf: the buffer of a larger SDP (rare) is not kept.
const maxPooledSDPBuf = 16 << 10
