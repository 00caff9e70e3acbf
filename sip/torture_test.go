package sip

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRFC4475Torture sends every RFC 4475 torture message to the UDP
// listener. The gateway answers or drops each; afterwards it has not
// panicked and a normal SIPp call still works.
func TestRFC4475Torture(t *testing.T) {
	env := trustedEnv(t)
	files, err := filepath.Glob(filepath.Join("testdata", "rfc4475", "*", "*.dat"))
	if err != nil || len(files) < 40 {
		t.Fatalf("torture files: %d (%v)", len(files), err)
	}
	sort.Strings(files)
	c := dialRaw(t, env.a.Addr())
	var summary []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c.send(t, replyToUs(string(data), c.local()))
		summary = append(summary, filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)+": "+outcome(c))
	}
	t.Logf("RFC 4475 outcomes:\n%s", strings.Join(summary, "\n"))
	if p := testutil.ToFloat64(env.gm.Panics); p != 0 {
		t.Fatalf("%v panics recovered", p)
	}
	uac := startSIPp(t, "uac_call.xml", env.a.Addr(), "-s", "answer")
	env.users.leg(t, "answer")
	uac.wait(t)
}

var firstViaUDP = regexp.MustCompile(`(?i)(SIP\s*/\s*2\.0\s*/\s*UDP\s+)([^\s;,]+)`)

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

// outcome reads what the gateway sent back for one message.
func outcome(c *rawClient) string {
	var got []string
	deadline := time.Now().Add(250 * time.Millisecond)
	for time.Now().Before(deadline) {
		res, ok := c.read(time.Until(deadline)).(*sip.Response)
		if !ok {
			continue
		}
		got = append(got, res.StartLine())
		if res.StatusCode >= 200 {
			break
		}
	}
	if len(got) == 0 {
		return "dropped"
	}
	return strings.Join(got, ", ")
}
