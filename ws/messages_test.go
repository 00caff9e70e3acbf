package ws

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
)

func TestParseClientMessage(t *testing.T) {
	const cand = `candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host ufrag abcd`
	cases := []struct {
		name  string
		in    string
		err   error // nil: accepted
		check func(t *testing.T, m *clientMessage)
	}{
		{name: "username (MDN)", in: `{"type":"username","name":"alice","date":1700000000000,"id":3}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Name == "alice" && !m.HasFeatures, m) }},
		{name: "username with features", in: `{"type":"username","name":"alice","features":["callId","ringing"]}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.HasFeatures && len(m.Features) == 2, m) }},
		{name: "chat", in: `{"type":"message","text":"hi","id":3,"date":1}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Text == "hi", m) }},
		{name: "offer object", in: `{"type":"video-offer","name":"x","target":"bob","sdp":{"type":"offer","sdp":"v=0"}}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.SDP == "v=0" && m.Target == "bob", m) }},
		{name: "offer string", in: `{"type":"video-offer","target":"bob","sdp":"v=0"}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.SDP == "v=0", m) }},
		{name: "answer object", in: `{"type":"video-answer","target":"bob","sdp":{"sdp":"v=0","type":"answer"}}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.SDP == "v=0", m) }},
		{name: "answer typed offer", in: `{"type":"video-answer","target":"bob","sdp":{"type":"offer","sdp":"v=0"}}`, err: ErrMalformed},
		{name: "sdp object duplicate", in: `{"type":"video-offer","target":"bob","sdp":{"type":"offer","sdp":"v=0","sdp":"x"}}`, err: ErrMalformed},
		{name: "empty sdp", in: `{"type":"video-offer","target":"bob","sdp":"  "}`, err: ErrMalformed},
		{name: "candidate object", in: `{"type":"new-ice-candidate","target":"bob","candidate":{"candidate":"` + cand + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
			check: func(t *testing.T, m *clientMessage) {
				c := m.Candidate
				want(t, c.Line == cand && *c.Mid == "0" && *c.MLine == 0 && c.Ufrag == "abcd", m)
			}},
		{name: "candidate string a=", in: `{"type":"new-ice-candidate","target":"bob","candidate":"a=` + cand + `","sdpMLineIndex":1}`,
			check: func(t *testing.T, m *clientMessage) {
				want(t, m.Candidate.Line == cand && m.Candidate.Mid == nil && *m.Candidate.MLine == 1, m)
			}},
		{name: "candidate null", in: `{"type":"new-ice-candidate","target":"bob","candidate":null}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Candidate.Null, m) }},
		{name: "candidate empty", in: `{"type":"new-ice-candidate","target":"bob","candidate":{"candidate":"","sdpMid":"1"}}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Candidate.Line == "" && *m.Candidate.Mid == "1", m) }},
		{name: "candidate missing", in: `{"type":"new-ice-candidate","target":"bob"}`, err: ErrMalformed},
		{name: "candidate TCP host", in: `{"type":"new-ice-candidate","target":"bob","candidate":"candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active"}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Candidate.Line != "", m) }},
		{name: "hang-up ext", in: `{"type":"hang-up","target":"bob","callId":"a.b~c-1_2","reason":"busy","code":486,"text":"x"}`,
			check: func(t *testing.T, m *clientMessage) {
				want(t, m.CallID == "a.b~c-1_2" && m.Reason == "busy" && m.Code == 486 && m.Text == "x", m)
			}},
		{name: "hang-up target null (the only call)", in: `{"type":"hang-up","target":null}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Target == "" && m.CallID == "", m) }},
		{name: "video-answer target null", in: `{"type":"video-answer","target":null,"sdp":"v=0"}`, err: ErrMalformed},
		{name: "hang-up callId only", in: `{"type":"hang-up","callId":"c1"}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Target == "" && m.CallID == "c1", m) }},
		{name: "callId too long", in: `{"type":"hang-up","callId":"` + longText(65) + `"}`, err: ErrMalformed},
		{name: "ringing 183", in: `{"type":"ringing","callId":"c1","code":183}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Code == 183, m) }},
		{name: "ringing 200", in: `{"type":"ringing","callId":"c1","code":200}`, err: ErrMalformed},
		{name: "end-of-candidates", in: `{"type":"end-of-candidates","callId":"c1","sdpMid":"0"}`,
			check: func(t *testing.T, m *clientMessage) { want(t, *m.Candidate.Mid == "0", m) }},
		{name: "end-of-candidates with candidate", in: `{"type":"end-of-candidates","callId":"c1","candidate":"x"}`, err: ErrMalformed},
		{name: "decline with reason", in: `{"type":"decline","callId":"c1","reason":"busy"}`, err: ErrMalformed},
		{name: "server type from client", in: `{"type":"userlist","users":[]}`, err: ErrUnknownType},
		{name: "unknown type", in: `{"type":"offer-request","callId":"c1"}`, err: ErrUnknownType},
		{name: "dtmf", in: `{"type":"dtmf","target":"bob","digits":"12a#","duration":250}`,
			check: func(t *testing.T, m *clientMessage) { want(t, m.Digits == "12A#" && m.Duration == 250, m) }},
		{name: "dtmf bad digit", in: `{"type":"dtmf","target":"bob","digits":"1E"}`, err: ErrMalformed},
		{name: "dtmf duration too short", in: `{"type":"dtmf","target":"bob","digits":"1","duration":39}`, err: ErrMalformed},
		{name: "chat over 8 KiB", in: `{"type":"message","text":"` + longText(8<<10+1) + `"}`, err: ErrTooLarge},
		{name: "target over 256 bytes", in: `{"type":"hang-up","target":"` + longText(257) + `"}`, err: ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseClientMessage([]byte(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, m)
		})
	}
}

func want(t *testing.T, ok bool, m *clientMessage) {
	t.Helper()
	if !ok {
		t.Fatalf("parsed as %+v", m)
	}
}

func TestErrorStatusAndText(t *testing.T) {
	cases := []struct {
		err    error
		code   int
		reason string
		text   string
	}{
		{errorf(ErrMalformed, "unknown field "+token("x<script>")), 400, "general-error", "malformed message: unknown field x?script?"},
		{ErrUnauthenticated, 401, "security-error", "log in first"},
		{errorf(ErrRateLimited, "x"), 429, "general-error", "too many messages: x"},
		{errorf(ErrUnknownType, token("dtmf")), 501, "general-error", "unknown message type: dtmf"},
		{wrap(gateway.ErrOffline, `"zed" <script>`), 480, "gone", "user offline"},
		{wrap(gateway.ErrNotFound, "nobody"), 404, "gone", "user not found"},
		{wrap(gateway.ErrBusy, "x"), 486, "busy", "user busy"},
		{wrap(gateway.ErrBadSDP, "line 3: secret detail"), 488, "incompatible-parameters", "malformed SDP"},
		{errors.New("boom"), 500, "general-error", "internal error"},
	}
	for _, tc := range cases {
		code, reason := status(tc.err)
		if code != tc.code || reason != tc.reason || publicText(tc.err) != tc.text {
			t.Errorf("%v: %d %s %q, want %d %s %q", tc.err, code, reason, publicText(tc.err), tc.code, tc.reason, tc.text)
		}
	}
}

func wrap(sentinel error, detail string) error { return &wrapped{sentinel, detail} }

type wrapped struct {
	sentinel error
	detail   string
}

func (w *wrapped) Error() string { return w.sentinel.Error() + ": " + w.detail }
func (w *wrapped) Unwrap() error { return w.sentinel }

// callIDRE is the rule isCallID implements (the fuzz test checks accepted
// messages against it too).
var callIDRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// TestIsCallIDMatchesRegexp: isCallID accepts exactly what callIDRE
// matches, on edge cases and on every string of one or two bytes.
func TestIsCallIDMatchesRegexp(t *testing.T) {
	cases := []string{"", "a", "abc-DEF_1.2~3", "a b", "a/b", "é", "a\x00", strings.Repeat("x", 64), strings.Repeat("x", 65)}
	for i := range 256 {
		cases = append(cases, string([]byte{byte(i)}), string([]byte{'a', byte(i)}))
	}
	for _, s := range cases {
		if got, want := isCallID(s), callIDRE.MatchString(s); got != want {
			t.Fatalf("isCallID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// TestSDPTextBufferReused checks the pooled SDP text (sdptext.go): once
// an SDP is parsed and its buffer released, the next message's SDP is
// decoded into that buffer, and the first parsed SDP must not change
// (pion/sdp copies every string it keeps).
func TestSDPTextBufferReused(t *testing.T) {
	first, second := offerSDP(t), answerSDP(t)
	parse := func(sdpText, typ, sdpType string) *sdp.SessionDescription {
		data, err := json.Marshal(map[string]any{"type": typ, "target": "bob",
			"sdp": map[string]any{"type": sdpType, "sdp": sdpText}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseClientMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		if m.SDP != sdpText {
			t.Fatalf("sdp text %q, want %q", m.SDP, sdpText)
		}
		sd, err := gateway.ParseSDP(m.SDP)
		if err != nil {
			t.Fatal(err)
		}
		m.releaseSDP()
		if m.SDP != "" || m.sdpBuf != nil {
			t.Fatal("released SDP still set")
		}
		return sd
	}
	sd := parse(first, typeVideoOffer, "offer")
	want := gateway.MarshalSDP(sd)
	for range 20 { // the pool may drop a buffer; some of these reuse it
		parse(second, typeVideoAnswer, "answer")
	}
	if got := gateway.MarshalSDP(sd); got != want {
		t.Fatalf("the first SDP changed after its buffer was reused:\n%s\nwant:\n%s", got, want)
	}
}
