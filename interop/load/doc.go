// Package load is sigbridge's load generator for the browser dialect
// (`sigbridge load`). It talks to a gateway only over the wire, like the
// interop harness, so QA teams point it at any deployment.
//
// Logged-in caller users (one WebSocket each, with the callId extension so
// that one connection carries many calls) place calls the way Chromium
// does: a video-offer with a Chromium SDP, three trickled candidates,
// end-of-candidates, and hang-up after the hold. Calls are placed open
// loop at a fixed rate, round robin over the users, never beyond the
// gateway's per-user call cap or message rate (the tool mirrors both). With
// Answer the tool also logs in the callee users and answers every call
// with a Chromium answer, for browser → browser runs; SIP callees are
// SIPp's job. The run ends by itself (duration or number of calls), drains
// the calls in flight, hangs up what is left and closes every connection.
//
// The Report counts attempted, answered and failed calls, failures by the
// gateway's code and reason (from its error and hang-up messages), calls
// that could not be placed, and the setup latency (offer sent → answer
// received) p50/p95/p99/max, with the share of setups within the
// gateway's own histogram bounds (1-50 ms) and the tool's own GC and
// scheduling latency, so that the tail can be split between the gateway and
// the generator.
//
// # Files
//
// options.go (Options, defaults, patterns), fixtures.go (the Chromium SDPs
// and candidates in testdata/), conn.go (one user's WebSocket, the
// messages it writes, its per-user budget), inmsg.go (inMsg: the fields
// read from a server message, scanned without decoding the rest), run.go (Run: log in, schedule, calls, answers,
// drain), report.go (Report, progress line, text and JSON), selfstats.go
// (the tool's own GC cycles and scheduling latency during a run), token.go
// (HS256 tokens per user).
package load
