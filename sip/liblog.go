package sip

import (
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// RouteLibraryLogs sends the records sipgo writes to its package-wide
// logger (transport reference counts, lazy header parsing) to log, at
// debug level like the adapter's own sipgo records. sipgo keeps that
// logger in a global, so a program calls this once, before New; tests and
// programs that never call it keep sipgo's default (slog.Default()).
func RouteLibraryLogs(log *slog.Logger) {
	sip.SetDefaultLogger(slog.New(demoteHandler{log.Handler()}).With("component", "sipgo"))
}
