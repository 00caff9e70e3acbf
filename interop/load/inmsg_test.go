package load

import (
	"encoding/json"
	"reflect"
	"testing"
)

// inMsgSamples are messages as the gateway sends them to the tool, and
// JSON the scanner must leave to encoding/json.
var inMsgSamples = []string{
	`{"type":"video-answer","name":"callee-1","target":"caller-1","callId":"c12","sdp":{"type":"answer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=x:\"q\"\r\n"}}`,
	`{"type":"new-ice-candidate","target":"caller-1","callId":"c12","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}`,
	`{"type":"end-of-candidates","callId":"c12"}`,
	`{"type":"hang-up","callId":"c12","code":480,"reason":"gone"}`,
	`{"type":"error","code":503,"reason":"overloaded","text":"try later","ref":"video-offer","callId":"c9"}`,
	`{"type":"ringing","callId":"c1","code":180,"flag":true,"n":-1.5e3,"x":null,"arr":[1,{"a":"]}"}]}`,
	`{"type":"rejectusername","name":"caller-7 (2)"}`,
	`{"type":"userlist","users":["a","b\u00e9"]}`,
	` { "type" : "hang-up" , "callId" : "c\u00e91" } `,
	`{"type":"hang-up","reason":"caf\u00e9 \"x\"","code":486}`,
	`{"Type":"hang-up","CALLID":"c1"}`,
	`{"type":"hang-up","type":"error"}`,
	`{"type":null,"code":null}`,
	`{"type":"hang-up","code":1.5}`,
	`{"type":"hang-up","code":"486"}`,
	`{"type":"hang-up",}`,
	`{"type":"hang-up"} x`,
	`{"type":"hang-up"`,
	`{"type":7}`,
	`[]`,
	`{}`,
	"{\"type\":\"bad\xff\"}",
}

// decodeInMsg gives what encoding/json gives for every message it accepts.
func TestDecodeInMsgMatchesEncodingJSON(t *testing.T) {
	for _, s := range inMsgSamples {
		checkDecode(t, []byte(s))
	}
}

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	var want inMsg
	wantErr := json.Unmarshal(b, &want)
	var got inMsg
	err := decodeInMsg(b, &got)
	if wantErr != nil {
		return // the scanner may take what encoding/json refuses: it does not validate
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%q: decodeInMsg = %+v, %v; encoding/json = %+v", b, got, err, want)
	}
}

func FuzzDecodeInMsg(f *testing.F) {
	for _, s := range inMsgSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

// appendJSONString is json.Marshal of a string, byte for byte.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "c12", "callee-%d", "sip:uas@127.0.0.1:5080", "a\"b", `a\b`, "<&>", "é", "\x01", "\xff"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
	}
}
