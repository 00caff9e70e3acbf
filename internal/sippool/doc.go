// Package sippool holds the one wait every test SIP user agent built on
// sipgo needs before its first request: WaitPooled returns once sipgo's
// transport layer has the UA's served UDP socket in its connection pool.
// A request made before (the serving goroutine can start late on a loaded
// box) makes sipgo bind the same port a second time, which fails with
// "address already in use".
//
// sip/siptest's user agents and the interop harness's SIP agent (part of
// the sigbridge binary, so this package does not import testing) share it.
//
// Files: pooled.go (WaitPooled).
package sippool
