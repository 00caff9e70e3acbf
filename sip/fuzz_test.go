package sip

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
)

// fuzzAdapter is an adapter that handles requests without sockets: the
// fuzz target feeds it parsed messages and recording server transactions.
// Calls to browser users reach a leg that refuses at once (busy).
func fuzzAdapter(f *testing.F) *Adapter {
	f.Helper()
	router := gateway.NewRouter()
	gm := gateway.NewMetrics(nil)
	gw := gateway.New(gateway.Config{}, router, nil, gm)
	router.Handle(gateway.SchemeUser, gateway.DialerFunc(func(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
		l := &refusingLeg{call: req.Call}
		return l, nil
	}))
	a, err := New(Config{Listen: "127.0.0.1:0", TrustedSources: []string{"127.0.0.1"},
		InboundUsers: []InboundUser{{Username: "bob", Password: "pw"}}}, gw, nil, gm, nil)
	if err != nil {
		f.Fatal(err)
	}
	a.mu.Lock()
	a.addrs["udp"] = "127.0.0.1:5060"
	a.dua = &sipgo.DialogUA{Client: a.cli, ContactHDR: a.contactLocked("UDP")}
	a.mu.Unlock()
	f.Cleanup(func() { _ = a.Close() })
	return a
}

// refusingLeg answers every offer with a busy hang-up.
type refusingLeg struct{ call *gateway.Call }

func (l *refusingLeg) Kind() string       { return "test" }
func (l *refusingLeg) Caps() gateway.Caps { return gateway.Caps{} }
func (l *refusingLeg) Deliver(ev gateway.Event) error {
	if _, ok := ev.(gateway.Offer); ok {
		go func() { _ = l.call.Post(l, gateway.Hangup{Reason: gateway.Reason{Condition: gateway.CondBusy}}) }()
	}
	return nil
}

var fuzzSeeds = []string{
	"OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: f1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
	"BYE sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK2\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:gw@127.0.0.1>;tag=2\r\nCall-ID: f2\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
	"CANCEL sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK3\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: f3\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
}

// fuzzSource is the source of the datagrams FuzzInboundMessage reads.
var fuzzSource = &udpSource{ap: netip.MustParseAddrPort("127.0.0.1:5070"), str: "127.0.0.1:5070"}

// inviteSeed is an INVITE to a browser user with a WebRTC offer.
func inviteSeed(user string, extra string) string {
	body := webrtcSDP("actpass", "fuzz", 30000)
	return "INVITE sip:" + user + "@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK9\r\n" +
		"From: \"A\" <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:" + user + "@127.0.0.1>\r\nCall-ID: f9\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:a@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n" + extra + "Content-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// FuzzInboundMessage feeds arbitrary bytes through the UDP reader's own
// handling (Adapter.takeUDP), sipgo's parser and our request handling (validation, trust, digest, SDP, routing, the UAS leg).
// Nothing may panic (recovered panics count as failures), every handler
// returns, and no response carries CR or LF inside a header value (To and
// From are echoed as sent, RFC 4475 quoted-pair NULs included).
func FuzzInboundMessage(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(inviteSeed("alice", "")))
	f.Add([]byte(inviteSeed("sip%3Abob%40example.org", "")))
	f.Add([]byte(inviteSeed("alice", "Require: 100rel\r\n")))
	a := fuzzAdapter(f)
	parser := newParser() // the parser our transports use
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = a.takeUDP(data, fuzzSource) // what the UDP reader handles itself (udptake.go)
		for _, trusted := range []bool{true, false} {
			msg, err := parser.ParseSIP(data)
			if err != nil {
				return
			}
			req, ok := msg.(*sip.Request)
			if !ok {
				return
			}
			fuzzRequest(t, a, req, trusted)
		}
		if p := testutil.ToFloat64(a.gm.Panics); p != 0 {
			t.Fatalf("%v panics recovered", p)
		}
	})
}

func fuzzRequest(t *testing.T, a *Adapter, req *sip.Request, trusted bool) {
	req.SetTransport("UDP")
	req.SetSource("192.0.2.9:5070")
	if trusted {
		req.SetSource("127.0.0.1:5070")
	}
	if _, err := sip.ServerTxKeyMake(req); err != nil {
		return // sipgo answers these 400 statelessly before any handler
	}
	tx := siptest.NewServerTxRecorder(req)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.dispatch(req, tx)
	}()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
		tx.Terminate() // a final response waits for its ACK
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("handler for %s stuck", req.Method)
		}
	}
	tx.Terminate()
	for _, res := range tx.Result() {
		for _, h := range res.Headers() {
			if strings.ContainsAny(h.Value(), "\r\n") {
				t.Fatalf("response %s header %s carries CR/LF: %q", res.StartLine(), h.Name(), h.Value())
			}
		}
	}
}
