package lazylog

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
)

// TestWithLazySameOutput: a logger made by With writes exactly what
// slog's With writes, attributes in the same order, through nested
// With, With and WithGroup, and nothing below the handler's level.
func TestWithLazySameOutput(t *testing.T) {
	write := func(with func(*slog.Logger, ...any) *slog.Logger) string {
		var buf bytes.Buffer
		base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}})).With("adapter", "sip")
		l := with(base, "leg", "sip-in")
		l = with(l, "callid", "abc@h", slog.Int("n", 3))
		l.Debug("not written", "x", 1)
		l.Info("one", "code", 200)
		l.With("more", true).Warn("two")
		l.WithGroup("g").Info("three", "k", "v")
		with(l, "call", "c1").Error("four", "err", "boom")
		return buf.String()
	}
	eager := write(func(l *slog.Logger, args ...any) *slog.Logger { return l.With(args...) })
	lazy := write(With)
	if lazy != eager {
		t.Errorf("With wrote\n%s\nslog's With wrote\n%s", lazy, eager)
	}
	if !bytes.Contains([]byte(lazy), []byte(`level=ERROR msg=four adapter=sip leg=sip-in callid=abc@h n=3 call=c1 err=boom`)) {
		t.Errorf("unexpected output:\n%s", lazy)
	}
}

// benchLogger is a parent logger as the gateway's adapters have one: a
// TextHandler with an attribute of its own.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil)).With("adapter", "sip")
}

// BenchmarkWith: what a call's loggers cost, one With of three attributes
// and one of one attribute on top of it (a SIP leg's leg, then callid).
func BenchmarkWith(b *testing.B) {
	base := benchLogger()
	id, from, to := benchID, benchFrom, benchTo
	b.Run("With", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := With(base, "call", id, "from", from, "to", to)
			sink = With(l, "callid", id)
		}
	})
}

var sink *slog.Logger

// The benchmark's attribute values, variables as a call's are: a constant
// string boxed into an any does not allocate.
var benchID, benchFrom, benchTo = "c0ffee", "alice", "sip:bob@example.com"
