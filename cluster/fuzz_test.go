package cluster

import (
	"encoding/json"
	"testing"
)

// FuzzWire: whatever another node (or anyone on NATS) sends, decoding a
// call message, a heartbeat, a registry key or value never panics, and an
// event that decodes encodes back to the same type.
func FuzzWire(f *testing.F) {
	f.Add([]byte(`{"c":"1","n":"a","s":1,"t":"candidate","mid":"0","l":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}`))
	f.Add([]byte(`{"c":"1","n":"a","s":2,"t":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}`))
	f.Add([]byte(`{"c":"1","n":"a","s":3,"t":"dtmf","d":"1#","ms":-5}`))
	f.Add([]byte(`{"n":"a","b":"0000000000000001abcd"}`))
	f.Add([]byte(`{"c":"","n":"a","b":"0000000000000001abcd","t":"bye"}`))
	f.Add([]byte(`user.616c696365`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m callMsg
		if json.Unmarshal(b, &m) == nil {
			if ev, err := decodeEvent(&m); err == nil {
				var back callMsg
				if err := encodeEvent(&back, ev); err != nil || back.Type != m.Type {
					t.Fatalf("%s decoded but encodes as %q: %v", m.Type, back.Type, err)
				}
			}
		}
		decodeHeartbeat(b)
		parseKVKey(string(b))
		if h, err := decodeHolder(b); err == nil && string(encodeHolder(h)) != string(b) {
			t.Fatalf("holder %q round-trips as %q", b, encodeHolder(h))
		}
	})
}
