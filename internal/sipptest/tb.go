package sipptest

import (
	"context"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// TB is the part of testing.TB that StartT uses (a testing.TB is one).
type TB interface {
	daemon.TB
	Fatalf(format string, args ...any)
}

// StartT is Start for a test: a failure (sipp missing included: the test
// fails, never skips) fails the test, and SIPp is killed when the test
// ends, after its logs when the test failed.
func StartT(t TB, o Options) *SIPp {
	t.Helper()
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	daemon.Cleanup(t, "sipp "+o.Scenario, s.Kill, s.Logs)
	return s
}
