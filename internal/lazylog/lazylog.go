package lazylog

import (
	"context"
	"log/slog"
	"slices"
)

// With is log.With(args...) for loggers whose attributes are rarely
// written: the per-call loggers of SIP legs (leg, callid, call; at the
// default info level a call writes one or two records, if any) and the
// per-connection loggers of WebSocket connections (conn, remote; an idle
// connection writes none). slog's built-in handlers format the attributes
// of With at once into a copy of the handler (TextHandler.WithAttrs: about
// ten allocations for each call of With, some 30 per inbound SIP call, and
// a few hundred bytes that every idle connection would keep); the handler
// returned here keeps them as they are and adds them, in the same order
// before the record's own, only to records that are written.
//
// WithAttrs does the same for attributes already made, without boxing
// each value into an any: prefer it where a logger is made per call.
func With(log *slog.Logger, args ...any) *slog.Logger {
	if len(args) == 0 {
		return log
	}
	var buf [inlineAttrs]slog.Attr
	return WithAttrs(log, argsToAttrs(buf[:0], args)...)
}

// WithAttrs is log.With of attrs (slog.String, slog.Int and the like,
// which do not allocate), lazily as With: the attributes are formatted
// only when a record is written. The logger, its handler and its
// attributes (the parent's included) take one allocation when there are
// at most inlineAttrs of them, two when more.
func WithAttrs(log *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	if len(attrs) == 0 {
		return log
	}
	base, parent := split(log.Handler())
	return newLogger(base, parent, attrs)
}

// split returns the handler that h writes to and the attributes it adds
// first: h itself and none when h is not a lazy handler.
func split(h slog.Handler) (slog.Handler, []slog.Attr) {
	if lh, ok := h.(*lazyHandler); ok {
		return lh.base, lh.attrs
	}
	return h, nil
}

// argsToAttrs appends to dst the attributes of With-style arguments
// (key, value pairs or Attrs), as slog.Logger.With makes them.
func argsToAttrs(dst []slog.Attr, args []any) []slog.Attr {
	var r slog.Record
	r.Add(args...)
	r.Attrs(func(a slog.Attr) bool {
		dst = append(dst, a)
		return true
	})
	return dst
}

// inlineAttrs is how many attributes, the parent's included, a logger
// keeps in its own allocation: the most a call's loggers have (a SIP
// leg's leg, callid, call and rtpengine-call).
const inlineAttrs = 4

// lazyLogger is a logger and its handler, allocated together;
// lazyLogger2 and lazyLogger4 have room for the handler's attributes
// too, so that an idle connection's logger (two attributes) keeps no
// more memory than it did in three allocations.
type lazyLogger struct {
	log slog.Logger
	h   lazyHandler
}

type lazyLogger2 struct {
	lazyLogger
	buf [2]slog.Attr
}

type lazyLogger4 struct {
	lazyLogger
	buf [inlineAttrs]slog.Attr
}

// newLogger returns a logger that writes to base with parent's attributes
// and then attrs added to each record, in one allocation if they fit.
func newLogger(base slog.Handler, parent, attrs []slog.Attr) *slog.Logger {
	switch n := len(parent) + len(attrs); {
	case n <= 2:
		x := new(lazyLogger2)
		return x.init(base, x.buf[:0], parent, attrs)
	case n <= inlineAttrs:
		x := new(lazyLogger4)
		return x.init(base, x.buf[:0], parent, attrs)
	default:
		return new(lazyLogger).init(base, make([]slog.Attr, 0, n), parent, attrs)
	}
}

// init makes x a logger writing to base with parent's attributes and then
// attrs, kept in buf (which has room for them), and returns it.
func (x *lazyLogger) init(base slog.Handler, buf, parent, attrs []slog.Attr) *slog.Logger {
	x.h = lazyHandler{base: base, attrs: slices.Clip(append(append(buf, parent...), attrs...))}
	x.log = *slog.New(&x.h)
	return &x.log
}

// lazyHandler is base with attrs still to add (With, WithAttrs).
type lazyHandler struct {
	base  slog.Handler
	attrs []slog.Attr
}

func (h *lazyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(a)
		return true
	})
	return h.base.Handle(ctx, nr)
}

// WithAttrs keeps attrs after h's, lazily too (slog.Logger.With on a
// logger of this package).
func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return newLogger(h.base, h.attrs, attrs).Handler()
}

// WithGroup puts the attributes so far outside the group, as slog's
// handlers do.
func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.base.WithAttrs(h.attrs).WithGroup(name)
}
