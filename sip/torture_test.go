package sip

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// tortureWant is the expected class of answer to one RFC 4475 message.
type tortureWant struct {
	class string // accept, refuse, drop or response (see tortureCheck)
	code  int    // exact final status, when the class has one
	why   string
}

const (
	// accept: a valid request reaches a handler; its final answer is
	// not a syntax refusal (400, 416, 505). code, if set, is exact.
	accept = "accept"
	// refuse: an invalid request gets a 4xx (code, if set, exact).
	refuse = "refuse"
	// drop: sipgo cannot parse it, so nothing identifies whom to answer;
	// no answer, no crash.
	drop = "drop"
	// response: a response; it parses and, matching no transaction, is
	// ignored.
	response = "response"
)

// rfc4475 is every message of testdata/rfc4475 with its expected answer
// from the gateway as a UAS with a trusted caller (no digest). REGISTER
// rows name only the class: their code depends on the registrar.
var rfc4475 = map[string]tortureWant{
	// §3.1.1 valid messages: 13 of 13 must be accepted.
	"valid/wsinv":      {accept, 481, "INVITE full of LWS; its To tag makes it a re-INVITE of an unknown dialog"},
	"valid/intmeth":    {accept, 405, "unusual extension method, CSeq method equal"},
	"valid/esc01":      {accept, 488, "escaped characters in URIs"},
	"valid/escnull":    {accept, 0, "REGISTER, %00 in a Contact user"},
	"valid/esc02":      {accept, 405, "method RE%47IST%45R is not REGISTER"},
	"valid/lwsdisp":    {accept, 200, "no LWS between display name and <"},
	"valid/longreq":    {accept, 488, "long values, 34 Via headers"},
	"valid/dblreq":     {accept, 0, "REGISTER followed by a second request in the datagram"},
	"valid/semiuri":    {accept, 200, "semicolon-separated parameters in the URI user part"},
	"valid/transports": {accept, 200, "Via with unusual transports"},
	"valid/mpart01":    {accept, 405, "MESSAGE with a multipart body"},
	"valid/unreason":   {response, 0, "unusual reason phrase"},
	"valid/noreason":   {response, 0, "empty reason phrase"},
	// §3.1.2 invalid messages.
	"invalid/badinv01":   {drop, 0, "; in the Via protocol"},
	"invalid/clerr":      {drop, 0, "Content-Length larger than the datagram"},
	"invalid/scalar02":   {drop, 0, "overflowing scalar field"},
	"invalid/scalarlg":   {drop, 0, "overlarge scalar fields"},
	"invalid/quotbal":    {drop, 0, "unterminated quoted string"},
	"invalid/ltgtruri":   {drop, 0, "<> around the Request-URI"},
	"invalid/lwsruri":    {drop, 0, "LWS inside the Request-URI"},
	"invalid/lwsstart":   {drop, 0, "several SP in the request line"},
	"invalid/trws":       {drop, 0, "SP after the SIP version"},
	"invalid/escruri":    {refuse, 400, "escaped headers in the Request-URI"},
	"invalid/baddate":    {refuse, 0, "non-GMT Date (400 or processed: both allowed)"},
	"invalid/regbadct":   {refuse, 0, "REGISTER, Contact with ? outside <>"},
	"invalid/badaspec":   {drop, 0, "addr-spec with a space before the colon"},
	"invalid/baddn":      {drop, 0, "non-token characters in an unquoted display name"},
	"invalid/badvers":    {refuse, 505, "SIP/7.0"},
	"invalid/mismatch01": {refuse, 400, "CSeq method differs from the request line's"},
	"invalid/mismatch02": {refuse, 400, "unknown method, CSeq INVITE"},
	"invalid/bigcode":    {drop, 0, "response code 4294967301"},
	"invalid/ncl":        {drop, 0, "negative Content-Length"},
	"invalid/test":       {drop, 0, "request line without a SIP version"},
	// §3.2 transaction layer.
	"invalid/badbranch": {accept, 200, "branch is the bare magic cookie (400 or RFC 2543 matching: we match)"},
	// §3.3 application layer.
	"invalid/insuf":    {refuse, 400, "no To, From, Call-ID"},
	"invalid/unkscm":   {refuse, 416, "unknown Request-URI scheme"},
	"invalid/novelsc":  {drop, 0, "soap.beep Request-URI: sipgo cannot parse it (416 wanted)"},
	"invalid/unksm2":   {refuse, 0, "REGISTER with isbn: and http: in To and From"},
	"invalid/bext01":   {refuse, 420, "Require of unknown extensions"},
	"invalid/invut":    {refuse, 415, "unknown Content-Type"},
	"invalid/regaut01": {refuse, 0, "REGISTER with an unknown Authorization scheme"},
	"invalid/multi01":  {refuse, 400, "several To, From, Call-ID, CSeq, Max-Forwards"},
	"invalid/mcl01":    {refuse, 400, "several Content-Length"},
	"invalid/bcast":    {response, 0, "response with a broadcast Via"},
	"invalid/zeromf":   {accept, 200, "Max-Forwards 0 to us, the UAS"},
	"invalid/cparam01": {accept, 0, "REGISTER, Contact parameters without <>"},
	"invalid/cparam02": {accept, 0, "REGISTER, Contact URI parameters"},
	"invalid/regescrt": {accept, 0, "REGISTER, escaped header in the Contact URI"},
	"invalid/sdp01":    {refuse, 0, "Accept without application/sdp"},
	// §3.4 backward compatibility: no From tag, no branch. We require a
	// From tag (RFC 2543 peers are not supported).
	"invalid/inv2543": {refuse, 400, "RFC 2543 INVITE without From tag"},
}

// TestRFC4475Torture sends every RFC 4475 torture message to the gateway
// (UDP, or TCP for a TCP or TLS Via, each on its own socket so answers
// cannot mix) and checks the class of answer of each. Afterwards nothing
// has panicked and a normal SIPp call still works.
func TestRFC4475Torture(t *testing.T) {
	env := trustedEnv(t)
	files, err := filepath.Glob(filepath.Join("testdata", "rfc4475", "*", "*.dat"))
	if err != nil || len(files) != len(rfc4475) {
		t.Fatalf("torture files: %d, table rows: %d (%v)", len(files), len(rfc4475), err)
	}
	valid := 0
	t.Run("messages", func(t *testing.T) {
		for _, f := range files {
			name := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(filepath.Base(f), ".dat")
			want, ok := rfc4475[name]
			if !ok {
				t.Errorf("%s: not in the table", name)
				continue
			}
			if strings.HasPrefix(name, "valid/") && (want.class == accept || want.class == response) {
				valid++
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				got := tortureSend(t, env, string(data))
				tortureCheck(t, want, data, got)
			})
		}
	})
	if valid != 13 {
		t.Errorf("%d of 13 valid messages expected to be accepted", valid)
	}
	if p := testutil.ToFloat64(env.gm.Panics); p != 0 {
		t.Fatalf("%v panics recovered", p)
	}
	uac := startSIPp(t, "uac_call.xml", env.a.Addr(), "-s", "answer")
	env.users.leg(t, "answer")
	uac.wait(t)
}

// tortureCheck compares the responses to one message with its class.
func tortureCheck(t *testing.T, want tortureWant, data []byte, got []*sip.Response) {
	t.Helper()
	final := 0
	for _, r := range got {
		if r.StatusCode >= 200 {
			final = r.StatusCode
			break
		}
	}
	desc := describe(got)
	switch want.class {
	case accept:
		if final == 0 || final == 400 || final == 416 || final == 505 || (want.code != 0 && final != want.code) {
			t.Errorf("%s: got %s, want it accepted (final %d)", want.why, desc, want.code)
		}
	case refuse:
		if final < 400 || final > 499 && final != 505 || (want.code != 0 && final != want.code) {
			t.Errorf("%s: got %s, want a refusal %d", want.why, desc, want.code)
		}
	case drop:
		if len(got) != 0 {
			t.Errorf("%s: got %s, want no answer", want.why, desc)
		}
		if _, err := newParser().ParseSIP(data); err == nil {
			t.Errorf("%s: parses, so it could be answered", want.why)
		}
	case response:
		if len(got) != 0 {
			t.Errorf("%s: got %s, want no answer", want.why, desc)
		}
		if m, err := newParser().ParseSIP(data); err != nil {
			t.Errorf("%s: does not parse: %v", want.why, err)
		} else if _, ok := m.(*sip.Response); !ok {
			t.Errorf("%s: parsed as %T", want.why, m)
		}
	}
}

func describe(got []*sip.Response) string {
	if len(got) == 0 {
		return "no answer"
	}
	var s []string
	for _, r := range got {
		s = append(s, r.StartLine())
	}
	return strings.Join(s, ", ")
}

var (
	firstViaUDP = regexp.MustCompile(`(?i)(SIP\s*/\s*\d\.\d\s*/\s*UDP\s+)([^\s;,]+)`)
	firstVia    = regexp.MustCompile(`(?im)^(?:via|v)\s*:\s*SIP\s*/\s*\d\.\d\s*/\s*([a-z]+)`)
)

// tortureWait is how long a message may take to be answered (a drop waits
// for all of it).
const tortureWait = 1500 * time.Millisecond

// tortureSend sends one message from its own socket, over TCP when its
// first Via says TCP or TLS, else over UDP, and returns the responses.
func tortureSend(t *testing.T, env *testEnv, msg string) []*sip.Response {
	if m := firstVia.FindStringSubmatch(msg); m != nil && !strings.EqualFold(m[1], "UDP") {
		return tortureTCP(t, env.a.AddrOf("tcp"), msg)
	}
	c := dialRaw(t, env.a.Addr())
	c.send(t, replyToUs(msg, c.local()))
	var got []*sip.Response
	deadline := time.Now().Add(tortureWait)
	for time.Now().Before(deadline) {
		res, ok := c.read(time.Until(deadline)).(*sip.Response)
		if !ok {
			continue
		}
		got = append(got, res)
		if res.StatusCode >= 200 {
			break
		}
	}
	return got
}

// tortureTCP sends msg on a new TCP connection and reads the responses
// that come back on it.
func tortureTCP(t *testing.T, addr, msg string) []*sip.Response {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	var got []*sip.Response
	deadline := time.Now().Add(tortureWait)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		b := make([]byte, 65536)
		n, err := conn.Read(b)
		buf = append(buf, b[:n]...)
		var res []*sip.Response
		res, buf = splitResponses(buf)
		got = append(got, res...)
		if len(got) > 0 && got[len(got)-1].StatusCode >= 200 || err != nil {
			break
		}
	}
	return got
}

var contentLength = regexp.MustCompile(`(?im)^(?:content-length|l)\s*:\s*(\d+)`)

// splitResponses takes the complete responses off the front of a stream.
func splitResponses(buf []byte) ([]*sip.Response, []byte) {
	var out []*sip.Response
	for {
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end < 0 {
			return out, buf
		}
		n := 0
		if m := contentLength.FindSubmatch(buf[:end]); m != nil {
			n, _ = strconv.Atoi(string(m[1]))
		}
		if len(buf) < end+4+n {
			return out, buf
		}
		if res, err := sip.ParseMessage(buf[:end+4+n]); err == nil {
			if r, ok := res.(*sip.Response); ok {
				out = append(out, r)
			}
		}
		buf = buf[end+4+n:]
	}
}

// replyToUs points the first UDP Via sent-by at our socket, so the answers
// (sent to the source address and Via port) reach the test. Nothing else in
// the message changes.
func replyToUs(msg, addr string) string {
	loc := firstViaUDP.FindStringSubmatchIndex(msg)
	if loc == nil {
		return msg
	}
	return msg[:loc[4]] + addr + msg[loc[5]:]
}
