package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
)

// The relay benchmarks send a video-offer (the Chromium 156 fixture with
// audio, video and a data channel) or a new-ice-candidate from alice's
// connection through the gateway to bob's, two ways:
//
//   - websocket: real WebSocket clients on loopback, raw frames (no client
//     JSON decoding), so the numbers include the sockets and both goroutines
//     of each connection;
//   - inproc: the same connection code without sockets (handle → bridge →
//     leg → send queue), so the numbers are the adapter and bridge alone.
//
// A video-offer needs an answer before the next offer (the bridge allows
// one offer at a time); the answer round runs with the timer stopped.

var benchCfg = Config{RatePerSecond: 1e9, RateBurst: 1 << 30, SendQueue: 4096}

func benchGateway() gateway.Config {
	return gateway.Config{MaxTrickled: 1 << 30, RingTimeout: time.Hour}
}

func benchMessages(b *testing.B) (offer, answer, cand []byte) {
	mk := func(v map[string]any) []byte {
		out, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	offer = mk(map[string]any{"type": "video-offer", "name": "alice", "target": "bob",
		"sdp": map[string]any{"type": "offer", "sdp": offerSDP(b)}})
	answer = mk(map[string]any{"type": "video-answer", "name": "bob", "target": "alice",
		"sdp": map[string]any{"type": "answer", "sdp": answerSDP(b)}})
	cand = mk(map[string]any{"type": "new-ice-candidate", "target": "bob", "candidate": map[string]any{
		"candidate": candLine, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "4oUU"}})
	return offer, answer, cand
}

// benchSide is one browser in a benchmark: how to send a frame to the
// gateway and how to wait for a message of a type.
type benchSide struct {
	send func([]byte)
	wait func(typ string)
}

func BenchmarkRelayVideoOffer(b *testing.B) {
	for _, mode := range []string{"websocket", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			alice, bob := benchPair(b, mode)
			offer, answer, _ := benchMessages(b)
			alice.send(offer) // the call
			bob.wait(typeVideoOffer)
			bob.send(answer)
			alice.wait(typeVideoAnswer)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				alice.send(offer) // a re-offer on the call
				bob.wait(typeVideoOffer)
				b.StopTimer()
				bob.send(answer)
				alice.wait(typeVideoAnswer)
				b.StartTimer()
			}
		})
	}
}

func BenchmarkRelayNewICECandidate(b *testing.B) {
	for _, mode := range []string{"websocket", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			alice, bob := benchPair(b, mode)
			offer, answer, cand := benchMessages(b)
			alice.send(offer)
			bob.wait(typeVideoOffer)
			bob.send(answer)
			alice.wait(typeVideoAnswer)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				alice.send(cand)
				bob.wait(typeNewICECandidate)
			}
		})
	}
}

func benchPair(b *testing.B, mode string) (alice, bob benchSide) {
	h := newHarness(b, benchCfg, benchGateway())
	if mode == "inproc" {
		return inprocSide(b, h, "alice"), inprocSide(b, h, "bob")
	}
	return wsSide(b, h, "alice"), wsSide(b, h, "bob")
}

// wsSide logs a raw gorilla client in and reads frames synchronously.
func wsSide(b *testing.B, h *harness, name string) benchSide {
	c, _, err := websocket.DefaultDialer.Dial(h.url("/ws"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	send := func(m []byte) {
		if err := c.WriteMessage(websocket.TextMessage, m); err != nil {
			b.Fatal(err)
		}
	}
	wait := func(typ string) {
		marker := []byte(`{"type":"` + typ + `"`)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(data, marker) {
				return
			}
		}
	}
	send([]byte(`{"type":"username","name":"` + name + `"}`))
	waitLoggedIn(b, h, name)
	return benchSide{send: send, wait: wait}
}

// inprocSide is a connection without a socket: frames go straight to
// handle, and the send queue is read directly.
func inprocSide(b *testing.B, h *harness, name string) benchSide {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	ready := make(chan struct{}, 1)
	c := &conn{s: h.srv, ctx: ctx, cancel: cancel, log: h.srv.log, out: newOutQueue(benchCfg.SendQueue),
		done: make(chan struct{}), writerDone: make(chan struct{}), onWake: func() { wake(ready) }}
	c.id = h.srv.dir.add(c)
	_, _ = h.srv.dir.claim(c, name)
	var pending [][]byte
	wait := func(typ string) {
		marker := []byte(`{"type":"` + typ + `"`)
		for {
			for len(pending) == 0 {
				if pending, _ = c.out.next(c.closing); len(pending) == 0 {
					<-ready
				}
			}
			data := pending[0]
			pending = pending[1:]
			if bytes.HasPrefix(data, marker) {
				return
			}
		}
	}
	return benchSide{send: func(b []byte) { c.handle(b) }, wait: wait}
}

func waitLoggedIn(b *testing.B, h *harness, name string) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := h.srv.dir.lookup(name); err == nil {
			return
		}
	}
	b.Fatalf("%s not logged in", name)
}

// wake puts a token in ready unless one is there (onWake of socketless
// test connections).
func wake(ready chan struct{}) {
	select {
	case ready <- struct{}{}:
	default:
	}
}

// BenchmarkReadObject splits a video-offer (an SDP of about 5 KB in one
// JSON string) and a new-ice-candidate into members: "one pass" is
// readObject, which checks the JSON syntax as it splits; "two passes" is
// json.Valid and then the split (readObject before).
func BenchmarkReadObject(b *testing.B) {
	offer, _, cand := benchMessages(b)
	for _, msg := range []struct {
		name string
		data []byte
	}{{"video-offer", offer}, {"new-ice-candidate", cand}} {
		b.Run(msg.name+"/one pass", func(b *testing.B) {
			var buf [8]field
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.data)))
			for b.Loop() {
				if _, err := readObject(buf[:0], msg.data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(msg.name+"/two passes", func(b *testing.B) {
			var buf [8]field
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.data)))
			for b.Loop() {
				if !json.Valid(msg.data) {
					b.Fatal("invalid")
				}
				if _, err := splitObject(buf[:0], msg.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONStringSDP decodes the SDP string of a video-offer (about
// 5 KB with a \r\n escape at the end of each line) with jsonString.
func BenchmarkJSONStringSDP(b *testing.B) {
	offer, _, _ := benchMessages(b)
	var m struct {
		SDP struct {
			SDP string `json:"sdp"`
		} `json:"sdp"`
	}
	if err := json.Unmarshal(offer, &m); err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(m.SDP.SDP)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if s, ok := jsonString(raw); !ok || len(s) != len(m.SDP.SDP) {
			b.Fatal("decoded wrong")
		}
	}
}

// BenchmarkParseClientMessage parses and checks a video-offer and a
// new-ice-candidate (clientMessage.parse: the split, the schema, the
// members' decoding), on one connection's reader.
func BenchmarkParseClientMessage(b *testing.B) {
	offer, _, cand := benchMessages(b)
	for _, msg := range []struct {
		name string
		data []byte
	}{{"video-offer", offer}, {"new-ice-candidate", cand}} {
		b.Run(msg.name, func(b *testing.B) {
			var recent recentWords
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.data)))
			for b.Loop() {
				m := getMessage()
				m.recent = &recent
				if err := m.parse(msg.data); err != nil {
					b.Fatal(err)
				}
				m.releaseSDP()
				putMessage(m)
			}
		})
	}
}
