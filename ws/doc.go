// Package ws is sigbridge's browser adapter: an HTTP server that speaks the
// WebSocket JSON dialect of MDN's "webrtc-from-chat" sample, plus optional
// extensions, turns it into the neutral events of package gateway, and
// serves the embedded demo page.
//
// # What a browser sees
//
// A page opens one WebSocket (on /ws, or on / where the unmodified MDN
// client connects; subprotocol "json" or none) and sends one JSON object
// per text frame. The server greets it with {"type":"id"} (and the ICE
// servers to use); the page logs in with "username"; everybody gets the
// "userlist" after changes, coalesced (userlist.go; or "user-joined" and
// "user-left" with the "user-events" feature; nothing with Directory
// "none"); "message" is chat. Calls are the MDN
// messages "video-offer", "video-answer", "new-ice-candidate" and
// "hang-up", addressed with "target" (a user name, "sip:…", "xmpp:…",
// "+1555…"). The gateway puts the other party's routable address in "name"
// of everything it relays, so the MDN callee, which answers to
// target = msg.name, reaches the caller whatever dialect the caller speaks.
// Extensions (callId, ringing, decline/busy, end-of-candidates, dtmf
// (dtmf.go), error, iceServers) are described in README.md; clients opt in
// with "features" in username or by sending a callId.
//
// # TURN credentials
//
// With Config.TURN (turn.go) each logged-in user gets its own TURN
// credential in the coturn REST convention ("<expiry>:<user>", password
// base64 HMAC-SHA1 of it with the shared secret read from the environment),
// in iceServers of the id greeting when a token names the user, in
// ice-servers after username for extension clients, and again at 80% of
// the TTL (a per-connection timer, stopped when the connection ends).
// Static TURN passwords in ICEServers are refused.
//
// # How it maps to the gateway
//
// Each call of a connection is a leg (type leg, a gateway.Leg with
// Caps{Trickle, MDNS, ReadsSDP, GivesSDP}: it only reads the SDPs it
// renders, and never touches one it posted, so the bridge copies neither).
// A video-offer for a target without a call places
// one through gateway.Gateway.Place; a video-offer for an existing call is
// a re-offer. The other messages become Answer, Candidate,
// EndOfCandidates, Ringing, DTMF and Hangup events posted to the call. In the
// other direction the bridge calls Deliver, which renders the event as a
// message and queues it. Server.Dial is the gateway.Dialer for user names:
// it creates the callee leg on the user's connection.
//
// # Several nodes
//
// With Server.UseRegistry (registry.go; cmd/sigbridge backs it with package
// cluster) the directory is shared: a name is claimed in the registry as
// well, so it is unique across nodes (taken elsewhere: rejectusername with
// a derived name, or 409 for an authenticated identity), and other nodes'
// users come and go in the user list like local ones. The claim is a
// network round trip made without directory.mu held (the name is pending
// meanwhile); an unreachable registry refuses logins with 503. Calls to
// another node's users are routed by the router's dialer (cluster's
// RemoteDialer), not here: Dial only ever finds local connections.
//
// # Concurrency
//
// Each connection has one reader at a time: it parses, checks and handles
// a message, posts events to calls (gateway.Call.PostInline: when the call
// is idle the reader handles the event itself and writes what the other
// leg gets, with no hand-off to a call goroutine), then hands reading on
// to a fresh goroutine (whose stack is only what a blocked read needs: an
// idle connection costs about 10 KiB), unless the next message is already
// in the connection's own read buffer (readbuf.go: gorilla reads through a
// bufio.Reader of ours, which reads the socket 16 KiB at a time into a
// pooled buffer, taken only once data is there: stage_unix.go) or the
// socket. A reader grows its stack in one
// step, while it is shallow (growStack), when its first message arrives. Anybody else (call goroutines, userlist
// flushes, Dial) queues with conn.enqueue, which never blocks: a client
// whose queue overflows is dropped. The queue has one writer at a time
// (writer.go): the goroutine that queued to an idle queue writes at once
// if the socket takes it without waiting (socket.go, socket_linux.go);
// broadcasts are written by a small writer pool; the frames of everything
// queued go out in one write (frame.go). A dedicated writer goroutine runs
// only while a slow client's socket is full, and once for the close frame;
// pings are sent by a timer. Frames are written under conn.wmu, which is
// released only between whole frames. Shared state is small and locked in one order: directory.mu
// (who is online), then conn.mu (its name); a connection's callTable has
// its own mutex. Nothing calls into the gateway while holding a lock. A
// panic is recovered per connection (counted in sigbridge_recovered_panics_total)
// and closes that connection only.
//
// # Trust
//
// Nothing a client sends is trusted: with a TokenSecret the identity comes
// from a JWT checked before the upgrade (a refused handshake gets a bare
// 401 and no socket); a "name" in any message is ignored. Messages are
// parsed strictly (no duplicate keys, no case variants, no unknown fields,
// exact JSON types) and limited in size, rate and queue length; errors
// sent back are built from fixed texts, never echoed input.
package ws
