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
func With(log *slog.Logger, args ...any) *slog.Logger {
	if len(args) == 0 {
		return log
	}
	h := log.Handler()
	var attrs []slog.Attr
	if lh, ok := h.(*lazyHandler); ok {
		h, attrs = lh.base, slices.Clip(lh.attrs)
	}
	return slog.New(&lazyHandler{base: h, attrs: append(attrs, argsToAttrs(args)...)})
}

// argsToAttrs turns With-style arguments (key, value pairs or Attrs) into
// attributes, as slog.Logger.With does.
func argsToAttrs(args []any) []slog.Attr {
	var r slog.Record
	r.Add(args...)
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	return attrs
}

// lazyHandler is base with attrs still to add (withLazy).
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

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lazyHandler{base: h.base, attrs: append(slices.Clip(h.attrs), attrs...)}
}

// WithGroup puts the attributes so far outside the group, as slog's
// handlers do.
func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.base.WithAttrs(h.attrs).WithGroup(name)
}
