package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"testing"
	"time"
)

func TestInboundValidation(t *testing.T) {
	env := newEnv(t, Config{TrustedSources: []string{"127.0.0.1"}})
	c := dialRaw(t, env.a.Addr())
	ruri := "sip:answer@" + env.a.Addr()
	offer := webrtcSDP("actpass", "rawc", 30000)
	sdpCT := "Content-Type: application/sdp"
	plainRTP := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	cases := []struct {
		name, method string
		extra        []string
		body         string
		code         int
		header       string // a header the response must contain
	}{
		{"duplicate To", "OPTIONS", []string{"To: <sip:other@127.0.0.1>"}, "", 400, ""},
		{"duplicate Call-ID", "INVITE", []string{"i: dup@x"}, "", 400, ""},
		{"CSeq method mismatch", "OPTIONS", []string{"!CSeq: 1 INVITE"}, "", 400, ""},
		{"Max-Forwards 0", "INVITE", []string{"!Max-Forwards: 0"}, "", 483, ""},
		{"Require 100rel", "INVITE", []string{"Require: 100rel"}, offer, 420, "Unsupported: 100rel"},
		{"offerless INVITE", "INVITE", nil, "", 488, `offerless INVITE not supported"`},
		{"not SDP", "INVITE", []string{"Content-Type: text/plain"}, "hello", 415, "Accept: application/sdp"},
		{"plain RTP offer", "INVITE", []string{sdpCT}, plainRTP, 488, "Warning: 399"},
		{"bad SDP", "INVITE", []string{sdpCT}, "v=0\r\nbogus\r\n", 488, ""},
		{"loop", "INVITE", []string{sdpCT, loopHeader + ": " + env.a.loopTok}, offer, 482, ""},
		{"OPTIONS", "OPTIONS", nil, "", 200, "Allow: INVITE"},
		{"BYE outside dialog", "BYE", []string{"!To: <" + ruri + ">;tag=nope"}, "", 481, ""},
		{"REGISTER", "REGISTER", nil, "", 405, "Allow:"},
		{"hairpin to SIP", "INVITE", []string{sdpCT}, offer, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := ruri
			if tc.name == "hairpin to SIP" {
				target = "sip:sip%3Abob%40example.org@" + env.a.Addr()
			}
			c.send(t, c.rawRequest(tc.method, target, tc.extra, tc.body))
			res := c.final(3 * time.Second)
			if res == nil {
				t.Fatal("no final response")
			}
			if res.StatusCode != tc.code {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tc.code)
			}
			if tc.header != "" && !strings.Contains(res.String(), tc.header) {
				t.Errorf("response lacks %q:\n%s", tc.header, res)
			}
		})
	}
}

func TestInboundDigestChallenge(t *testing.T) {
	env := newEnv(t, Config{InboundUsers: []InboundUser{{Username: "bob", Password: "secret"}}, Realm: "gw.test"})
	c := dialRaw(t, env.a.Addr())
	ruri := "sip:busy@" + env.a.Addr()
	inv := c.rawRequest("INVITE", ruri, []string{"Content-Type: application/sdp"}, webrtcSDP("actpass", "rawc", 30000))
	c.send(t, inv)
	res := c.final(3 * time.Second)
	if res == nil || res.StatusCode != 401 {
		t.Fatalf("want 401, got %v", res)
	}
	chal := res.GetHeader("WWW-Authenticate")
	if chal == nil || !strings.Contains(chal.Value(), `realm="gw.test"`) {
		t.Fatalf("bad challenge %v", chal)
	}
	for _, tc := range []struct {
		pw   string
		code int
	}{{"wrong", 401}, {"secret", 486}} {
		c.send(t, c.rawRequest("INVITE", ruri, []string{"Content-Type: application/sdp",
			"Authorization: " + digestFor(t, chal.Value(), ruri, "bob", tc.pw)}, webrtcSDP("actpass", "rawc", 30000)))
		if res := c.final(3 * time.Second); res == nil || res.StatusCode != tc.code {
			t.Fatalf("password %q: got %v, want %d", tc.pw, res, tc.code)
		}
	}
	if got := callsMetric(env, "in", "486"); got != 1 {
		t.Errorf("calls{in,486} = %v", got)
	}
}

func digestFor(t *testing.T, challenge, uri, user, pw string) string {
	t.Helper()
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: user, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestInboundDrainingGets503(t *testing.T) {
	env := newEnv(t, Config{TrustedSources: []string{"127.0.0.1"}, RetryAfter: 7 * time.Second})
	env.gw.Drain(t.Context())
	c := dialRaw(t, env.a.Addr())
	c.send(t, c.rawRequest("INVITE", "sip:answer@"+env.a.Addr(), []string{"Content-Type: application/sdp"},
		webrtcSDP("actpass", "rawc", 30000)))
	res := c.final(3 * time.Second)
	if res == nil || res.StatusCode != 503 {
		t.Fatalf("want 503, got %v", res)
	}
	if h := res.GetHeader("Retry-After"); h == nil || h.Value() != "7" {
		t.Errorf("Retry-After %v, want 7", h)
	}
}

// TestInboundPerUserCap: a caller over MaxCallsPerUser gets 503 +
// Retry-After while its first call still rings.
func TestInboundPerUserCap(t *testing.T) {
	env := newEnv(t, Config{TrustedSources: []string{"127.0.0.1"}, MaxCallsPerUser: 1})
	c := dialRaw(t, env.a.Addr())
	inv := func() string {
		return c.rawRequest("INVITE", "sip:ring@"+env.a.Addr(), []string{"Content-Type: application/sdp"},
			webrtcSDP("actpass", "rawc", 30000))
	}
	c.send(t, inv())
	env.users.leg(t, "ring")
	c.send(t, inv())
	var res *sip.Response
	for res == nil || res.StatusCode < 300 {
		if res = c.final(3 * time.Second); res == nil {
			t.Fatal("no final response")
		}
	}
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("got %s, want 503 with Retry-After", res.StartLine())
	}
}
