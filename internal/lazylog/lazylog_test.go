package lazylog

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
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

// withFunc makes a logger with attributes: slog's With, this package's
// With and WithAttrs, and mixes of them.
type withFunc func(*slog.Logger, ...any) *slog.Logger

func eagerWith(l *slog.Logger, args ...any) *slog.Logger { return l.With(args...) }

// withAttrs is WithAttrs for arguments that are all Attrs.
func withAttrs(l *slog.Logger, args ...any) *slog.Logger {
	attrs := make([]slog.Attr, len(args))
	for i, a := range args {
		attrs[i] = a.(slog.Attr)
	}
	return WithAttrs(l, attrs...)
}

// alternate returns a withFunc that calls first, then second, then first...
func alternate(first, second withFunc) withFunc {
	n := 0
	return func(l *slog.Logger, args ...any) *slog.Logger {
		n++
		if n%2 == 1 {
			return first(l, args...)
		}
		return second(l, args...)
	}
}

// newTextLogger is a TextHandler's logger writing to buf without times.
func newTextLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}

// writeAttrs writes records through loggers that with makes from parent
// (from buf's logger), all of its arguments Attrs: chains of them, with
// slog's With and WithGroup between, up to more attributes than a logger
// keeps inline, groups, an empty one, and values of other kinds.
func writeAttrs(with withFunc, parent func(*slog.Logger) *slog.Logger) string {
	var buf bytes.Buffer
	l := with(parent(newTextLogger(&buf)), slog.String("leg", "sip-in"))
	l = with(l, slog.String("callid", "abc@h"), slog.Int("n", 3))
	l.Debug("not written", "x", 1)
	l.Info("one", "code", 200)
	l.With("more", true).Warn("two")
	with(l.With("more", true), slog.String("after", "more")).Info("two-b")
	l.WithGroup("g").Info("three", "k", "v")
	with(l.WithGroup("g2"), slog.String("in", "g2")).Info("three-b", "k", "v")
	l = with(l, slog.String("call", "c1"))
	l.Error("four", "err", "boom")
	with(l, slog.String("rtpengine-call", "r1"), slog.Bool("b", true)).Info("five")
	with(l, slog.Group("grp", slog.String("a", "b")), slog.Group("empty")).Info("six")
	with(l, slog.Any("err", errors.New("boom")), slog.Int64("conn", 7), slog.Duration("d", 1500)).Info("seven")
	with(l, slog.String("", "")).Info("eight")
	return buf.String()
}

// TestWithAttrsSameOutput: loggers made by WithAttrs, alone or chained with
// With, write exactly what slog's With writes, on parents of every sort.
func TestWithAttrsSameOutput(t *testing.T) {
	parents := map[string]func(*slog.Logger) *slog.Logger{
		"handler":      func(l *slog.Logger) *slog.Logger { return l },
		"slog With":    func(l *slog.Logger) *slog.Logger { return l.With("adapter", "sip") },
		"slog group":   func(l *slog.Logger) *slog.Logger { return l.With("adapter", "sip").WithGroup("req") },
		"lazy With":    func(l *slog.Logger) *slog.Logger { return With(l, "adapter", "sip") },
		"lazy 4 attrs": func(l *slog.Logger) *slog.Logger { return With(l, "a", 1, "b", 2, "c", 3, "d", 4) },
	}
	withs := map[string]withFunc{
		"With":              With,
		"WithAttrs":         withAttrs,
		"WithAttrs, With":   alternate(withAttrs, With),
		"With, WithAttrs":   alternate(With, withAttrs),
		"WithAttrs, slog's": alternate(withAttrs, eagerWith),
	}
	for pn, parent := range parents {
		eager := writeAttrs(eagerWith, parent)
		if !strings.Contains(eager, "msg=seven") {
			t.Fatalf("%s: unexpected output:\n%s", pn, eager)
		}
		for wn, with := range withs {
			if got := writeAttrs(with, parent); got != eager {
				t.Errorf("%s, %s wrote\n%s\nslog's With wrote\n%s", pn, wn, got, eager)
			}
		}
	}
}

// TestWithAttrsAllocs: WithAttrs makes one allocation for up to
// inlineAttrs attributes, the parent's included, and two for more.
func TestWithAttrsAllocs(t *testing.T) {
	base := benchLogger()
	lazy := WithAttrs(base, slog.String("leg", "sip-out"))
	for _, c := range []struct {
		name string
		want float64
		with func() *slog.Logger
	}{
		{"one", 1, func() *slog.Logger { return WithAttrs(base, slog.String("call", benchID)) }},
		{"three", 1, func() *slog.Logger {
			return WithAttrs(base, slog.String("call", benchID), slog.String("from", benchFrom), slog.String("to", benchTo))
		}},
		{"lazy parent", 1, func() *slog.Logger {
			return WithAttrs(lazy, slog.String("call", benchID), slog.String("callid", benchFrom))
		}},
		{"four", 1, func() *slog.Logger {
			return WithAttrs(lazy, slog.String("call", benchID), slog.String("callid", benchFrom), slog.Int("n", 3))
		}},
		{"five", 2, func() *slog.Logger {
			return WithAttrs(lazy, slog.String("call", benchID), slog.String("callid", benchFrom), slog.Int("n", 3), slog.Bool("b", true))
		}},
		{"none", 0, func() *slog.Logger { return WithAttrs(lazy) }},
	} {
		if got := testing.AllocsPerRun(100, func() { sink = c.with() }); got != c.want {
			t.Errorf("WithAttrs, %s: %v allocations, want %v", c.name, got, c.want)
		}
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
	b.Run("WithAttrs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := WithAttrs(base, slog.String("call", id), slog.String("from", from), slog.String("to", to))
			sink = WithAttrs(l, slog.String("callid", id))
		}
	})
}

var sink *slog.Logger

// The benchmark's attribute values, variables as a call's are: a constant
// string boxed into an any does not allocate.
var benchID, benchFrom, benchTo = "c0ffee", "alice", "sip:bob@example.com"
