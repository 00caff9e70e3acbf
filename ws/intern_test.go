package ws

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestKnownMid checks that an interned sdpMid is the string the JSON
// decodes to, and that escaped or unknown spellings are left to
// jsonString.
func TestKnownMid(t *testing.T) {
	for _, w := range midWords {
		raw, _ := json.Marshal(w)
		p := knownMid(raw)
		if p == nil || *p != w {
			t.Fatalf("knownMid(%s) = %v, want %q", raw, p, w)
		}
	}
	for _, raw := range []string{`"\u0030"`, `"32"`, `"sdparta_0"`, `""`, `0`, `null`, `"Audio"`} {
		if p := knownMid(json.RawMessage(raw)); p != nil {
			t.Errorf("knownMid(%s) = %q, want nil", raw, *p)
		}
	}
	var c candidateInit
	if err := c.setMid("", json.RawMessage(`"\u0031"`)); err != nil || *c.Mid != "1" {
		t.Fatalf("setMid(escaped 1): %v, %v", err, c.Mid)
	}
	if err := c.setMid("", json.RawMessage(`"video"`)); err != nil || *c.Mid != "video" {
		t.Fatalf("setMid(video): %v, %v", err, c.Mid)
	}
}

// TestSetMLineShared checks the interned sdpMLineIndex values.
func TestSetMLineShared(t *testing.T) {
	for i := range mlineIndexes {
		var c candidateInit
		raw, _ := json.Marshal(i)
		if err := c.setMLine("", raw); err != nil || *c.MLine != i {
			t.Fatalf("setMLine(%s): %v, %v", raw, err, c.MLine)
		}
	}
	var c candidateInit
	if err := c.setMLine("", json.RawMessage(`32`)); err == nil {
		t.Fatalf("setMLine(32) accepted: %v", *c.MLine)
	}
}

// TestEncodeCandidateMsgOneAllocation: the buffer's estimate holds a
// candidate message whole (no second allocation to grow it).
func TestEncodeCandidateMsgOneAllocation(t *testing.T) {
	mid := "0"
	m := candidateMsg{Type: typeNewICECandidate, Name: "sip:bob@pbx.example.org", Target: "alice", CallID: "c1",
		Candidate: candidateJSON{Candidate: candLine, SDPMid: &mid, SDPMLineIndex: 31, UsernameFragment: "4oUU"}}
	for _, mp := range []*string{&mid, nil} {
		m.Candidate.SDPMid = mp
		want, _ := json.Marshal(m)
		if got := encodeCandidateMsg(m); string(got) != string(want) || cap(got) < len(got) {
			t.Fatalf("encodeCandidateMsg = %s, want %s", got, want)
		}
		if n := testing.AllocsPerRun(20, func() { encodeCandidateMsg(m) }); n != 1 {
			t.Fatalf("encodeCandidateMsg: %v allocations, want 1", n)
		}
	}
}

// TestRecentWords: a value spelled like a recent string is that string;
// escaped values are decoded, never matched by their bytes; long ones are
// not kept.
func TestRecentWords(t *testing.T) {
	var r recentWords
	s1, _ := r.word(json.RawMessage(`"bob"`))
	s2, ok := r.word(json.RawMessage(`"bob"`))
	if !ok || s2 != "bob" || unsafe.StringData(s1) != unsafe.StringData(s2) {
		t.Fatalf("second bob: %q %v, not the recent string", s2, ok)
	}
	r.word(json.RawMessage(`"a\\\"b"`)) // decodes to a\"b
	if s, _ := r.word(json.RawMessage(`"a\"b"`)); s != `a"b` {
		t.Fatalf(`"a\"b" decoded as %q`, s)
	}
	if s, _ := r.word(json.RawMessage(`"b\u006fb"`)); s != "bob" {
		t.Fatalf(`"b\u006fb" decoded as %q`, s)
	}
	long := strings.Repeat("x", maxRecentWord+1)
	r.word(json.RawMessage(`"` + long + `"`))
	for _, w := range r.w {
		if w == long {
			t.Fatal("a value over maxRecentWord was kept")
		}
	}
	for _, raw := range []string{`null`, `5`, `{}`} {
		if _, ok := r.word(json.RawMessage(raw)); ok {
			t.Fatalf("word(%s) accepted", raw)
		}
	}
}

// TestParseWithRecentWords: a connection's messages parse the same with
// its recent strings as without, whatever came before.
func TestParseWithRecentWords(t *testing.T) {
	const cand = `candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host`
	msgs := []string{
		`{"type":"video-offer","target":"bob","callId":"c1","sdp":"v=0"}`,
		`{"type":"new-ice-candidate","target":"bob","callId":"c1","candidate":{"candidate":"` + cand + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"4oUU"}}`,
		`{"type":"new-ice-candidate","target":"b\u006fb","callId":"c1","candidate":"` + cand + `","usernameFragment":"4o\u0055U"}`,
		`{"type":"new-ice-candidate","target":"bob","callId":"c1","candidate":"` + cand + `","usernameFragment":"4oUU"}`,
		`{"type":"hang-up","target":"bo\\b","callId":"c1"}`,
		`{"type":"hang-up","target":"bo\b","callId":"c1"}`,
		`{"type":"hang-up","target":"c1","callId":"bob"}`,
		`{"type":"end-of-candidates","target":"bob","callId":"c2"}`,
	}
	var r recentWords
	for _, in := range msgs {
		want, wantErr := parseClientMessage([]byte(in))
		got := &clientMessage{recent: &r}
		err := got.parse([]byte(in))
		got.recent = nil
		if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %+v, %v; without recent strings %+v, %v", in, got, err, want, wantErr)
		}
	}
}

// TestSharedMid: a known mid is its midWords string, another one a copy.
func TestSharedMid(t *testing.T) {
	buf := []byte("video sdparta_0")
	if s := sharedMid(string(buf[:5])); s != "video" || unsafe.StringData(s) != unsafe.StringData(midWords[gateway.MaxMediaSections+1]) {
		t.Fatalf("sharedMid(video) = %q, not the shared string", s)
	}
	if s := sharedMid(string(buf[6:])); s != "sdparta_0" {
		t.Fatalf("sharedMid(sdparta_0) = %q", s)
	}
	if s := sharedMid(""); s != "" {
		t.Fatalf("sharedMid(\"\") = %q", s)
	}
}

// TestSkipCheckedString: on valid JSON strings, with what may follow
// them, the search for the closing quote ends where the checking scan
// does.
func TestSkipCheckedString(t *testing.T) {
	strs := append([]string{`\`, `\\`, `"`, `\"`, `\\"`, `a\\\"b"\`, "v=0\r\nm=audio\r\n"}, trickyStrings...)
	for _, s := range strs {
		q, _ := json.Marshal(s)
		for _, after := range []string{"", `,"x":"\\"}`, `"`, `}`} {
			data := append(append([]byte{}, q...), after...)
			want := objectReader{data: data}
			got := objectReader{data: data, checked: true}
			if !want.skipString() || !got.skipString() || got.pos != want.pos || got.pos != len(q) {
				t.Fatalf("%s then %s: ends at %d, want %d", q, after, got.pos, want.pos)
			}
		}
	}
	if r := (objectReader{data: []byte(`"abc\"`), checked: true}); r.skipString() {
		t.Fatal("an unclosed string ended")
	}
}
