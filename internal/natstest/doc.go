// Package natstest starts a real NATS server for tests: nats-server, built
// from the Go module github.com/nats-io/nats-server/v2 that go.mod pins as a
// tool (or taken from PATH when one is installed there), with JetStream on,
// listening on a free port of 127.0.0.1, its store in the test's temporary
// directory, and stopped by PID when the test ends (internal/daemon starts
// and stops it). Kill and Restart let cluster tests lose and regain the
// server on the same port.
//
// Files: binary.go (Binary: find or build nats-server), server.go (Start,
// Stop, Kill, Restart).
package natstest
