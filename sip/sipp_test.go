package sip

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/sipptest"
)

// sippProc is one SIPp process started by a test (internal/sipptest); it
// is killed at test end.
type sippProc struct {
	*sipptest.SIPp
	addr string // SIPp's own SIP address
}

// startSIPp runs scenario (a file in testdata/sipp) for one call. remote is
// the address SIPp calls (UAC scenarios) or "" (UAS scenarios, which are
// listening when startSIPp returns).
func startSIPp(t *testing.T, scenario, remote string, extra ...string) *sippProc {
	t.Helper()
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	s := sipptest.StartT(t, sipptest.Options{Scenario: sf, Dir: t.TempDir(), Remote: remote, Host: "127.0.0.1",
		Timeout: 40 * time.Second, TraceMessages: true, Extra: extra})
	return &sippProc{SIPp: s, addr: s.Addr}
}

// wait expects SIPp to finish its call successfully.
func (p *sippProc) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("sipp did not finish\n%s", p.Logs())
		}
		t.Fatalf("sipp failed: %v\n%s", err, p.Logs())
	}
}

// messageLog is what SIPp sent and received so far (-trace_msg).
func (p *sippProc) messageLog(t *testing.T) string {
	t.Helper()
	s, err := p.MessageLog()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
