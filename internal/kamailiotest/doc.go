// Package kamailiotest starts a real Kamailio (Debian package kamailio) for
// tests, on loopback: one configuration file (the registrar of the SIP
// adapter's tests, RegistrarConfig, or the dispatcher in front of a
// sigbridge cluster, DispatcherConfig, which docs/CLUSTER.md shows), its
// own working directory in the test's temporary directory, a free port
// (UDP and TCP) of 127.0.0.1, in the foreground, stopped by PID (its
// process group) when the test ends; internal/daemon starts and stops it.
// Start waits until Kamailio answers an OPTIONS. A missing kamailio fails
// the test, never skips it.
//
// Files: kamailio.go (Start, Stop, Options200), registrar.cfg,
// dispatcher.cfg.
package kamailiotest
