// Package lazylog makes loggers whose With attributes are formatted only
// when a record is written, for the many short-lived or idle loggers of
// calls and connections, which seldom write anything.
//
// WithAttrs(log, slog.String("call", id), ...) is the one to use where a
// logger is made per call or connection: its attributes are made without
// boxing a value into an any, and the logger, its handler and up to four
// attributes (the parent logger's included) take a single allocation.
// With(log, "call", id, ...) takes slog's key, value arguments; it writes
// the same, at the cost of boxing each non-constant value. Both write
// byte for byte what log.With would, on any parent logger.
package lazylog
