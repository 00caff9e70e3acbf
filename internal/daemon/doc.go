// Package daemon starts the real peers that tests run as separate
// processes (coturn, nats-server, Kamailio, rtpengine, Prosody, SIPp) the
// one way all of them need: the binary in its own process group, its
// stdout and stderr appended to a console file in its directory, polled
// until a readiness probe passes (or it exits, or the start bound or the
// context ends), and stopped by PID: SIGTERM to the group, SIGKILL after
// 3 s, then waiting until no process of the group is left. A Daemon can be
// stopped, killed and started again with the same Spec (a server that
// crashes and comes back on the same ports).
//
// The package does not import testing, so that the interop harness, which
// is part of the sigbridge binary, starts its peers with it too; Cleanup
// takes a TB, which testing.TB satisfies.
//
// Files: daemon.go (Spec, Daemon: Start, Stop, Kill, Restart), ready.go
// (readiness probes: DialTCP, Listening, ListeningTCP, ListeningUDP),
// ports.go (free ports, picked from a band below the ephemeral range so
// that no bind(":0") or outgoing connection takes them before the peer
// binds them), tail.go (log tails, matching lines), cleanup.go (TB,
// Cleanup), gobuild.go (GoBuild, BuildAndRun: the Go command a test main
// builds once for its tests), testdata/hello (the command its test
// builds).
package daemon
