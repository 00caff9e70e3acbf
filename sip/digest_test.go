package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// digestEnv is a gateway whose only inbound user is bob/secret, offering
// algs (nil: the default).
func digestEnv(t *testing.T, algs []string) *testEnv {
	t.Helper()
	return newEnv(t, Config{InboundUsers: []InboundUser{{Username: "bob", Password: "secret"}},
		Realm: "gw.test", DigestAlgorithms: algs})
}

// challenges sends an unauthenticated INVITE and returns the 401's
// WWW-Authenticate challenges in order.
func challenges(t *testing.T, c *rawClient, ruri string) []*digest.Challenge {
	t.Helper()
	c.send(t, c.rawRequest("INVITE", ruri, []string{"Content-Type: application/sdp"}, webrtcSDP("actpass", "rawc", 30000)))
	res := c.final(3 * time.Second)
	if res == nil || res.StatusCode != 401 {
		t.Fatalf("want 401, got %v", res)
	}
	var out []*digest.Challenge
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("bad challenge %q: %v", h.Value(), err)
		}
		out = append(out, chal)
	}
	return out
}

func algorithmsOf(chals []*digest.Challenge) string {
	var s []string
	for _, c := range chals {
		s = append(s, c.Algorithm)
	}
	return strings.Join(s, ",")
}

// TestDigestChallengeOrder: one challenge per algorithm, SHA-256 first
// (RFC 8760 §2.4: most preferred first), all with one nonce and qop=auth;
// digest_algorithms [MD5] offers MD5 alone, for UAs that keep only one
// challenge or know only MD5 (JsSIP, SIP.js, baresip).
func TestDigestChallengeOrder(t *testing.T) {
	for _, tc := range []struct {
		algs []string
		want string
	}{{nil, "SHA-256,MD5"}, {[]string{"md5"}, "MD5"}, {[]string{"MD5", "SHA-256"}, "MD5,SHA-256"},
		{[]string{"SHA-512-256", "SHA-256"}, "SHA-512-256,SHA-256"}} {
		t.Run(tc.want, func(t *testing.T) {
			env := digestEnv(t, tc.algs)
			c := dialRaw(t, env.a.Addr())
			chals := challenges(t, c, "sip:busy@"+env.a.Addr())
			if got := algorithmsOf(chals); got != tc.want {
				t.Fatalf("challenge algorithms %q, want %q", got, tc.want)
			}
			for _, ch := range chals {
				if ch.Nonce != chals[0].Nonce || ch.Realm != "gw.test" || !ch.SupportsQOP("auth") {
					t.Errorf("challenge %+v: want realm gw.test, qop auth, the first challenge's nonce", ch)
				}
			}
		})
	}
}

// TestDigestAlgorithmConfig refuses algorithms we cannot verify and
// duplicates.
func TestDigestAlgorithmConfig(t *testing.T) {
	for _, algs := range [][]string{{"SHA-512"}, {"AKAv1-MD5"}, {"MD5", "md5"}} {
		_, err := New(Config{DigestAlgorithms: algs}, nil, nil, nil, nil)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("digest_algorithms %v: err %v, want ErrConfig", algs, err)
		}
	}
}

// TestDigestLoginPerAlgorithm answers the challenge with each algorithm:
// an offered one logs in (the call reaches "busy": 486), one not offered is
// refused (401) even with the right password. A response without an
// algorithm parameter is MD5 (RFC 3261 §22.4).
func TestDigestLoginPerAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		name string
		algs []string
		use  string // algorithm of our response ("-": no algorithm parameter)
		code int
	}{
		{"default/SHA-256", nil, "SHA-256", 486},
		{"default/MD5", nil, "MD5", 486},
		{"default/implicit-MD5", nil, "-", 486},
		{"default/SHA-512 not offered", nil, "SHA-512", 401},
		{"default/SHA-512-256 not offered", nil, "SHA-512-256", 401},
		{"MD5-only/MD5", []string{"MD5"}, "MD5", 486},
		{"MD5-only/SHA-256 not offered", []string{"MD5"}, "SHA-256", 401},
		{"SHA-256-only/MD5 not offered", []string{"SHA-256"}, "MD5", 401},
		{"SHA-256-only/implicit-MD5 not offered", []string{"SHA-256"}, "-", 401},
		{"SHA-512-256/SHA-512-256", []string{"SHA-512-256"}, "SHA-512-256", 486},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := digestEnv(t, tc.algs)
			c := dialRaw(t, env.a.Addr())
			ruri := "sip:busy@" + env.a.Addr()
			chal := *challenges(t, c, ruri)[0]
			chal.Algorithm = tc.use
			if tc.use == "-" {
				chal.Algorithm = ""
			}
			c.send(t, c.rawRequest("INVITE", ruri, []string{"Content-Type: application/sdp",
				"Authorization: " + digestFor(t, chal.String(), ruri, "bob", "secret")}, webrtcSDP("actpass", "rawc", 30000)))
			if res := c.final(3 * time.Second); res == nil || res.StatusCode != tc.code {
				t.Fatalf("got %v, want %d", res, tc.code)
			}
		})
	}
}

// TestDigestLoginSipgoClient: a sipgo UA (it answers the first challenge)
// logs in with SHA-256 by default and with MD5 when only MD5 is offered.
func TestDigestLoginSipgoClient(t *testing.T) {
	for _, tc := range []struct {
		algs []string
		want string
	}{{nil, "SHA-256"}, {[]string{"MD5"}, "MD5"}} {
		t.Run(tc.want, func(t *testing.T) {
			env := digestEnv(t, tc.algs)
			ua, err := sipgo.NewUA(sipgo.WithUserAgent("digest-test"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ua.Close() })
			cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			ruri := sip.Uri{Scheme: "sip", User: "busy", Host: "127.0.0.1", Port: int(env.a.udpAddr.Port())}
			req := sip.NewRequest(sip.INVITE, ruri)
			req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1"}})
			req.AppendHeader(contentTypeSDP())
			req.SetBody([]byte(webrtcSDP("actpass", "sipgo", 30000)))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			res, err := cli.Do(ctx, req)
			if err != nil || res.StatusCode != 401 {
				t.Fatalf("first INVITE: %v %v, want 401", res, err)
			}
			res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "bob", Password: "secret"})
			if err != nil || res.StatusCode != 486 {
				t.Fatalf("authenticated INVITE: %v %v, want 486", res, err)
			}
			cred, err := digest.ParseCredentials(req.GetHeader("Authorization").Value())
			if err != nil || cred.Algorithm != tc.want {
				t.Errorf("sipgo answered with %+v (%v), want algorithm %s", cred, err, tc.want)
			}
		})
	}
}

// TestDigestLoginSIPpMD5Only: SIPp 3.6 answers MD5 challenges only; with
// digest_algorithms [MD5] it logs in as an inbound user and reaches a callee.
func TestDigestLoginSIPpMD5Only(t *testing.T) {
	env := digestEnv(t, []string{"MD5"})
	uac := startSIPp(t, "uac_auth_busy.xml", env.a.Addr(), "-s", "busy", "-au", "bob", "-ap", "secret")
	uac.wait(t)
	if got := callsMetric(env, "in", "486"); got != 1 {
		t.Errorf("calls{in,486} = %v, want 1", got)
	}
}
