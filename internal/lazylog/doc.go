// Package lazylog makes loggers whose With attributes are formatted only
// when a record is written (With), for the many short-lived or idle
// loggers of calls and connections, which seldom write anything.
package lazylog
