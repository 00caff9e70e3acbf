package sip

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// TestLegLogAsBefore checks that legLog writes what the two lazylog.With
// calls it replaced wrote (the leg's name, then the call and the Call-ID),
// with one allocation (lazylog.WithAttrs) instead of their ten.
func TestLegLogAsBefore(t *testing.T) {
	var buf bytes.Buffer
	a := &Adapter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, at slog.Attr) slog.Attr {
			if at.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return at
		}})).With("adapter", "sip")}
	before := func(dir string, args ...any) *slog.Logger {
		return lazylog.With(lazylog.With(a.log, "leg", "sip-"+dir), args...)
	}
	for _, tc := range [][]any{{"out", "call", "c1", "callid", "abc"}, {"in", "callid", "x@h"}, {"in", "a", 1, "b", 2, "c", 3}} {
		dir, args := tc[0].(string), tc[1:]
		buf.Reset()
		before(dir, args...).Info("hello", "code", 200)
		want := buf.String()
		var attrs []slog.Attr
		for i := 0; i < len(args); i += 2 {
			attrs = append(attrs, slog.Any(args[i].(string), args[i+1]))
		}
		buf.Reset()
		legLog(a, dir, attrs...).Info("hello", "code", 200)
		if got := buf.String(); got != want {
			t.Fatalf("%v:\n got %q\nwant %q", tc, got, want)
		}
	}
	a.log = slog.New(slog.DiscardHandler)
	id, callID := "call-1", "0123456789abcdef"
	got := testing.AllocsPerRun(100, func() { legLog(a, "out", slog.String("call", id), slog.String("callid", callID)) })
	was := testing.AllocsPerRun(100, func() { before("out", "call", id, "callid", callID) })
	t.Logf("legLog: %v allocations, before: %v", got, was)
	if got != 1 {
		t.Fatalf("legLog allocates %v times, before %v", got, was)
	}
}
