package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type cliFunc func(args []string, in io.Reader, out, errOut io.Writer) int

var (
	sdp2jingle cliFunc = runSDP2Jingle
	jingle2sdp cliFunc = runJingle2SDP
)

func runCLI(f cliFunc, args []string, in string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := f(args, strings.NewReader(in), &out, &errOut)
	return code, out.String(), errOut.String()
}

func browserFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "xmpp", "jingle", "testdata", "browser", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLIRoundTrip: sdp2jingle | jingle2sdp on the Chromium answer, as the
// responder, with mDNS candidates dropped.
func TestCLIRoundTrip(t *testing.T) {
	in := browserFixture(t, "chrome156_answer_recvonly_gathered.sdp")
	code, x, stderr := runCLI(sdp2jingle, []string{"-role", "responder", "-sid", "abc"}, in)
	if code != 0 {
		t.Fatalf("sdp2jingle exit %d: %s", code, stderr)
	}
	for _, want := range []string{`action="session-accept"`, `sid="abc"`, `senders="initiator"`, `setup="active"`, `.local`} {
		if !strings.Contains(x, want) {
			t.Errorf("missing %s in\n%s", want, x)
		}
	}
	code, s, stderr := runCLI(jingle2sdp, []string{"-role=responder", "-drop-mdns", "-action", "session-accept", "-sid", "abc"}, x)
	if code != 0 {
		t.Fatalf("jingle2sdp exit %d: %s", code, stderr)
	}
	for _, want := range []string{"v=0\r\n", "a=group:BUNDLE 0 1 2\r\n", "a=recvonly\r\n", "a=setup:active\r\n", "a=mid:2\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, ".local") {
		t.Error("-drop-mdns ignored")
	}
}

// TestCLIAcceptsLF: shell-typed SDP with LF endings works.
func TestCLIAcceptsLF(t *testing.T) {
	in := "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
	code, x, stderr := runCLI(sdp2jingle, nil, in)
	if code != 0 || !strings.Contains(x, `name="PCMU"`) || !strings.Contains(x, `action="session-initiate"`) {
		t.Fatalf("exit %d: %s\n%s", code, stderr, x)
	}
}

func TestCLIErrors(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	cases := []struct {
		name string
		f    cliFunc
		args []string
		in   string
		code int
		text string
	}{
		{"bad flag", sdp2jingle, []string{"-nope"}, "", 2, "nope"},
		{"bad role", sdp2jingle, []string{"-role", "boss"}, "", 2, "initiator or responder"},
		{"positional", jingle2sdp, []string{"file.xml"}, "", 2, "stdin"},
		{"not sdp", sdp2jingle, nil, head + "hello\r\n", 1, "line 5"},
		{"pion error", sdp2jingle, nil, head + "m=image 9 udptl t38\r\n", 1, "line 5"},
		{"bad candidate", sdp2jingle, nil, head + "m=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 1 10.0.0.1 99999 typ host\r\n", 1, "line 7"},
		{"bad rtpmap", sdp2jingle, nil, head + "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/x\r\n", 1, "line 6"},
		{"too big", sdp2jingle, nil, strings.Repeat("a", maxSDPInput+1), 1, "over"},
		{"dtd", jingle2sdp, nil, `<!DOCTYPE x><jingle xmlns='urn:xmpp:jingle:1'/>`, 1, "DTD"},
		{"bad candidate xml", jingle2sdp, nil, `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'><content name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='x'/></transport></content></jingle>`,
			1, "jingle/content/transport"},
		{"no description", jingle2sdp, nil, `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'><content name='ft'/></jingle>`, 1, `<content name="ft">`},
		{"wrong action", jingle2sdp, []string{"-action", "session-accept"}, `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/>`, 1, "want action"},
		{"wrong sid", jingle2sdp, []string{"-sid", "t"}, `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/>`, 1, "want sid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(tc.f, tc.args, tc.in)
			if code != tc.code || !strings.Contains(stderr, tc.text) || out != "" {
				t.Errorf("exit %d (want %d), stderr %q (want %q), stdout %q", code, tc.code, stderr, tc.text, out)
			}
		})
	}
}
