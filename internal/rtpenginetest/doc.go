// Package rtpenginetest starts a real media relay for tests: rtpengine
// (Debian package rtpengine-daemon) in userspace mode (--table=-1, no
// kernel module) on loopback. The daemon reads no configuration file
// (--config-file=none), listens for the ng control protocol on a free UDP
// port of 127.0.0.1, takes its media ports from a range of 127.0.0.1 chosen
// per instance, deletes sessions at once when told (--delete-delay=0), runs
// in its own process group and is stopped by PID when the test ends
// (internal/daemon starts and stops it, as every test peer). Start
// returns once the daemon answers an ng ping with pong. Spawn is the same
// without a testing.TB (the interop harness's relay): one implementation
// of the flags and port choice for both. Media ports come from 10000-32767,
// below Linux's ephemeral range.
//
// Start takes a TB (testing.TB satisfies it), so the package does not
// import testing and binaries using Spawn do not link it.
//
// Files: spawn.go (Spawn, Args, Stop, Kill), rtpengine.go (Start, Restart,
// Ping, LogTail), ports.go (the media port range).
package rtpenginetest
