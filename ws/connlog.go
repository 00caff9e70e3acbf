package ws

import (
	"context"
	"log/slog"
)

// connHandler adds a connection's conn and remote attributes to each of
// its records. Logger.With would do the same by formatting them once into
// a copy of the handler: a few hundred bytes that every idle connection
// would keep; this keeps the id and address (the attributes then come
// after the record's own).
type connHandler struct {
	h      slog.Handler
	id     int64
	remote string
}

func newConnLogger(l *slog.Logger, id int64, remote string) *slog.Logger {
	return slog.New(&connHandler{h: l.Handler(), id: id, remote: remote})
}

func (h *connHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.h.Enabled(ctx, level)
}

func (h *connHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.Int64("conn", h.id), slog.String("remote", h.remote))
	return h.h.Handle(ctx, r)
}

func (h *connHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.h.WithAttrs(append([]slog.Attr{slog.Int64("conn", h.id), slog.String("remote", h.remote)}, attrs...))
}

func (h *connHandler) WithGroup(name string) slog.Handler {
	return h.h.WithAttrs([]slog.Attr{slog.Int64("conn", h.id), slog.String("remote", h.remote)}).WithGroup(name)
}
