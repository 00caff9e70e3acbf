// Package sipptest runs SIPp (Debian package sip-tester), the real SIP
// peer of the tests, the one way the sip package tests, the interop
// harness and the interop/load tests need it: one scenario file, a
// working directory for SIPp's error, message and log traces and its
// console output, free loopback control and media ports, -aa and
// -nostdin, a -timeout with -timeout_error (a stuck call fails), in its
// own process group, stopped by PID (internal/daemon starts and stops
// it). SIPp is ready once its media ports (-mp and -mp+2, bound at
// start-up) and, for a UAS (no Remote), its SIP port are bound, read from
// /proc/net (SIPp's t1 mode serves the first connection only, so nothing
// connects to check); a UAC then calls. SIPp's exit status is the
// verdict: 0 when every call of -m ran the scenario to its end. A UAS or
// UAC that could not bind a port picked for it (taken between the pick
// and the bind: errno 98 in its error trace) is started again on other
// ports; a UAC that ran all its calls before a probe saw its ports is not
// an error (its exit status still is the verdict).
//
// The package does not import testing (the interop harness, part of the
// sigbridge binary, runs SIPp with Start); StartT takes a TB, which
// testing.TB satisfies.
//
// Files: sipp.go (Options, Start, Wait, Stop, Kill, traces), tb.go
// (StartT), testdata/ (the scenarios of the package's own test).
package sipptest
