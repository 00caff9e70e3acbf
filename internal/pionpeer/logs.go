package pionpeer

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Logs is a pion logging.LoggerFactory that sends pion's own diagnostics
// (early RTP, DTLS retransmits) to Log at debug level; warnings and errors
// carry a "level" attribute, trace and debug output is dropped.
type Logs struct{ Log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (l Logs) NewLogger(scope string) logging.LeveledLogger {
	return logger{l.Log.With("pion", scope)}
}

type logger struct{ log *slog.Logger }

func (l logger) Trace(string)                {}
func (l logger) Tracef(string, ...any)       {}
func (l logger) Debug(string)                {}
func (l logger) Debugf(string, ...any)       {}
func (l logger) Info(msg string)             { l.log.Debug(msg) }
func (l logger) Infof(f string, args ...any) { l.log.Debug(fmt.Sprintf(f, args...)) }
func (l logger) Warn(msg string)             { l.log.Debug(msg, "level", "warn") }
func (l logger) Warnf(f string, args ...any) { l.log.Debug(fmt.Sprintf(f, args...), "level", "warn") }
func (l logger) Error(msg string)            { l.log.Debug(msg, "level", "error") }
func (l logger) Errorf(f string, args ...any) {
	l.log.Debug(fmt.Sprintf(f, args...), "level", "error")
}
