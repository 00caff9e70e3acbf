package ws

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/sigbridge/sigbridge/gateway"
)

// FuzzClientMessage feeds arbitrary frames to the strict parser and to the
// conversion into gateway events. It must never panic, must refuse with
// ErrMalformed, ErrUnknownType or ErrTooLarge only, and what it accepts
// must be well-formed: a known type, a valid callId, candidate lines that
// parse. The committed corpus (testdata/fuzz/FuzzClientMessage) holds
// every message form of the dialect.
func FuzzClientMessage(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseClientMessage(data)
		if m == nil {
			t.Fatal("nil message")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			_ = publicText(err)
			return
		}
		checkAccepted(t, data, m)
		l := &leg{c: &conn{}, localMids: []string{"0", "1", "2"}, remoteMids: []string{"0", "1"}}
		if m.Type == typeVideoOffer || m.Type == typeVideoAnswer {
			_, _ = gateway.ParseSDP(m.SDP)
			return
		}
		if isCallType(m.Type) {
			ev, err := l.event(m)
			if err != nil {
				t.Fatalf("event: %v", err)
			}
			if c, ok := ev.(gateway.Candidate); ok {
				_ = l.renderCandidate(c)
			}
		}
	})
}

func checkAccepted(t *testing.T, data []byte, m *clientMessage) {
	if _, ok := schemaFor[m.Type]; !ok {
		t.Fatalf("accepted unknown type %q", m.Type)
	}
	if !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	if m.CallID != "" && !callIDRE.MatchString(m.CallID) {
		t.Fatalf("accepted callId %q", m.CallID)
	}
	if l := m.Candidate.Line; l != "" {
		if _, err := gateway.ParseCandidate(l); err != nil {
			t.Fatalf("accepted candidate %q: %v", l, err)
		}
	}
	if isCallType(m.Type) && m.Target == "" && m.CallID == "" && !schemaFor[m.Type].nullTarget {
		t.Fatal("accepted a call message without target or callId")
	}
}

func isCallType(typ string) bool { return typ != typeUsername && typ != typeMessage }

// FuzzJSONString checks the string decoder against encoding/json.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\r\n\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\ud800\u0041"`, "\"\xff\"", `"\/\b\f\t\\\""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = bytes.TrimSpace(raw) // jsonString takes one value, as the splitter cuts it
		var want string
		if json.Unmarshal(raw, &want) != nil || len(raw) == 0 || raw[0] != '"' {
			return
		}
		got, ok := jsonString(raw)
		if !ok || got != want || !utf8.ValidString(got) {
			t.Fatalf("jsonString(%q) = %q, %v; encoding/json says %q", raw, got, ok, want)
		}
	})
}

// fuzzSeeds are one of each message form, valid and not.
func fuzzSeeds(t testing.TB) []string {
	offer := fixture(t, "chrome156_offer_audio_only.sdp") // small: fuzzing and minimizing stay fast
	b, _ := json.Marshal(offer)
	sdpStr := string(b)
	return []string{
		`{"type":"username","name":"alice","date":1700000000000,"id":1}`,
		`{"type":"username","name":"alice","features":["callId","ringing","end-of-candidates","error"]}`,
		`{"type":"message","text":"<b>hi</b>","id":1,"date":1}`,
		`{"type":"video-offer","name":"alice","target":"bob","sdp":{"type":"offer","sdp":` + sdpStr + `}}`,
		`{"type":"video-offer","target":"bob","callId":"c1","sdp":` + sdpStr + `}`,
		`{"type":"video-answer","name":"bob","target":"alice","sdp":{"type":"answer","sdp":"v=0\r\n"}}`,
		`{"type":"new-ice-candidate","target":"bob","candidate":{"candidate":"` + candLine + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"4oUU"}}`,
		`{"type":"new-ice-candidate","target":"bob","candidate":"a=` + candLine + `","sdpMid":"1","sdpMLineIndex":1}`,
		`{"type":"new-ice-candidate","target":"bob","candidate":null}`,
		`{"type":"new-ice-candidate","target":"bob","candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"end-of-candidates","callId":"c1","sdpMid":"0"}`,
		`{"type":"hang-up","name":"a","target":"bob","callId":"c1","reason":"busy","code":486,"text":"x"}`,
		`{"type":"decline","callId":"c1"}`,
		`{"type":"busy","target":"bob","text":"later"}`,
		`{"type":"ringing","callId":"c1","target":"bob","code":180}`,
		`{"type":"hang-up","TYPE":"x","target":"bob"}`,
		`{"type":"message","text":"a","text":"b"}`,
		`{"type":"frobnicate"}`,
		`{"type":"new-ice-candidate","target":"bob","candidate":"candidate:1 1 udp"}`,
		`{"type":"video-offer","target":"bob","sdp":{"type":"answer","sdp":"v=0"}}`,
		`{"type":"message","text":"\ud800\u00e9\"\\"}`,
		`{"type":"hang-up","target":"bob"} {}`,
		`[1,{"a":[{"b":"\\"}]}]`,
		`{"a":"\`,
		``,
	}
}

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus")

const corpusDir = "testdata/fuzz/FuzzClientMessage"

// TestFuzzCorpus checks that every seed is in the committed corpus (go test
// -run TestFuzzCorpus -update rewrites it).
func TestFuzzCorpus(t *testing.T) {
	for _, s := range fuzzSeeds(t) {
		sum := sha256.Sum256([]byte(s))
		path := filepath.Join(corpusDir, "seed-"+hex.EncodeToString(sum[:8]))
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(s) + ")\n"
		if *update {
			if err := os.MkdirAll(corpusDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != content {
			t.Errorf("%s missing or stale (run go test -run TestFuzzCorpus -update ./ws/)", path)
		}
	}
}

// FuzzJSONInt checks the integer decoder and the shared-word decoder
// against encoding/json.
func FuzzJSONInt(f *testing.F) {
	for _, s := range []string{`0`, `-0`, `180`, `-5`, `1.0`, `1e2`, `1E+2`, `99999999999999999999`, `-9223372036854775808`,
		`"type"`, `"typ\u0065"`, `"video-offer"`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = bytes.TrimSpace(raw)
		if !json.Valid(raw) {
			return
		}
		var n int
		err := json.Unmarshal(raw, &n)
		want := err == nil && n >= -1000 && n <= 1000
		got, ok := jsonInt(raw, -1000, 1000)
		if ok != want || (ok && got != n) {
			t.Fatalf("jsonInt(%s) = %d, %v; encoding/json says %d, %v", raw, got, ok, n, err)
		}
		ws, wok := jsonWord(raw)
		ss, sok := jsonString(raw)
		if ws != ss || wok != sok {
			t.Fatalf("jsonWord(%s) = %q, %v; jsonString %q, %v", raw, ws, wok, ss, sok)
		}
	})
}

// FuzzScannerValid checks the strict scanner's syntax check against
// json.Valid: readObject relies on it instead of a json.Valid pass.
func FuzzScannerValid(f *testing.F) {
	for _, s := range jsonValidCases {
		f.Add([]byte(s))
	}
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := scanValue(data), json.Valid(data); got != want {
			t.Fatalf("%q: scanner %v, json.Valid %v", data, got, want)
		}
	})
}

// FuzzReadObjectOnePass checks that readObject, which checks the syntax
// as it splits, accepts and refuses what json.Valid followed by the split
// did, with the same members and the same error.
func FuzzReadObjectOnePass(f *testing.F) {
	for _, s := range jsonValidCases {
		f.Add([]byte(s))
	}
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := readObject(nil, data)
		want, wantErr := readObjectTwoPass(data)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, two passes: %v", data, gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, two passes: %d", data, len(got), len(want))
		}
		for i := range got {
			if got[i].key != want[i].key || !bytes.Equal(got[i].raw, want[i].raw) {
				t.Fatalf("%q: member %d %q=%s, two passes: %q=%s", data, i, got[i].key, got[i].raw, want[i].key, want[i].raw)
			}
		}
	})
}
