// Package turntest starts a real TURN server for tests: coturn's
// turnserver (Debian package coturn) on loopback, with the TURN REST
// shared secret (use-auth-secret) that ws mints per-user credentials for.
// The server is configured entirely on the command line (no config file,
// its own database and log in the test's temporary directory), listens on
// a free port of 127.0.0.1, relays on 127.0.0.1 only, allows loopback
// peers, and is stopped by PID (its process group) when the test ends;
// internal/daemon starts and stops it.
//
// Files: coturn.go (Start, Stop, LogTail).
package turntest
