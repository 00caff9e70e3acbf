// Package cluster makes several sigbridge nodes act as one gateway, on
// NATS (github.com/nats-io/nats.go). Without a cluster configuration
// nothing here runs: a single sigbridge needs no NATS.
//
// # Nodes and liveness
//
// Every node has a name (Config.Node, unique in the cluster) and a boot id
// (random, new at each start). Each node publishes a heartbeat on
// "<prefix>.hb" every Config.HeartbeatInterval (1 s) and listens to the
// others'. A node not heard from for Config.NodeTimeout (3 s), or heard
// with a new boot id, is dead: its registry entries disappear for the
// others at once and are deleted from the store, and the calls it took
// part in end with connectivity-error. While this node's own connection
// to NATS is down it judges nobody (everybody's heartbeats stop at once);
// after it reconnects, peers get NodeTimeout to be heard again. Ready is
// false while NATS is unreachable (cmd/sigbridge's /readyz). Boot ids
// sort by start time, so a restarted node's new boot replaces its old one
// at its first heartbeat. A node that closes says so (a bye on each
// node's call subject, after its calls' hang-ups) and is dead for the
// others at once. Dead boots' registry entries
// are deleted by one node, the first live one by name; an entry naming a
// node never heard from gets NodeTimeout for that node to show up.
//
// # Registry
//
// The registry maps (kind, key) to the node that holds it: browser user
// names (kind "user"), SIP registrations, the XMPP component lease. It is
// a JetStream KV bucket (file storage, one revision per key) whose keys
// are "<kind>.<key>" (the key hex-encoded, so any string fits) and whose
// values are the holder's node name and boot id. Claim is an atomic create:
// a key held by a live node is ErrTaken; one held by a dead node, or by an
// earlier boot of this node, is taken over (a compare-and-set on its
// revision). The KV store has no per-key TTL here: entries live as long as
// their node's heartbeats, which is cheaper than refreshing every key
// (thousands of users) and ends them as fast. Every node watches the bucket
// and keeps a mirror, so Lookup and List answer from memory, filtered by
// liveness; Watch tells a subscriber (the browser directory) when keys
// appear and disappear, including when their node dies. After every
// (re)connection the bucket is opened again (created if it was lost), the
// mirror reloaded, and every node writes the claims the bucket lacks and
// deletes entries of its boot it no longer owns. A node whose entry a peer
// deletes while it still holds it (the peer took it for dead: heartbeats
// late on a starved box) writes it again at once.
//
// # State that outlives its writer
//
// A StateStore (statestore.go) is a JetStream KV bucket of its own,
// "<prefix>-state-<name>", for what an adapter must hand over to the node
// that takes its place: the XMPP component's devices table. Its entries
// are not tied to the writer's liveness (unlike the registry's): they stay
// until overwritten, deleted, or TTL after their last write (the bucket's
// max age; the writer rewrites what it holds more often). Bounded: a
// value size limit, a byte limit of about MaxEntries values (a full bucket
// refuses new keys), and Load skips what does not fit. Callers validate
// what they load.
//
// # Calls across nodes
//
// The caller's node owns the call's bridge. When its router resolves a
// target that lives on another node (RemoteDialer, with a Locator such as
// the registry), Dial sends "<prefix>.node.<callee node>.dial" (a request
// carrying the caller, the target and the first offer) and waits at most
// Config.DialTimeout for the answer. The callee node dials the target with
// the local Dialer that serves its scheme there (Serve), giving it a relay
// call (gateway.NewRelayCall) instead of a bridge, and answers with the
// leg's kind and caps. From then on the two nodes exchange the neutral
// events (offer, answer, candidate, end-of-candidates, ringing, hangup,
// failure, dtmf) as JSON messages on "<prefix>.node.<node>.call", each
// with the call id and a sequence number:
//
//	caller leg ── bridge (owner node) ── remote leg ══NATS══ relay ── callee leg (callee node)
//
// Order: one goroutine per call and side sends and one receives, in
// sequence; NATS keeps a publisher's order; a gap in sequence numbers (a
// message lost) ends the call with connectivity-error. Backpressure: each
// direction of each call has a bounded queue (Config.CallQueue); an event
// that does not fit ends the call like a local leg's failed Deliver.
// Timeouts: the bridge's ring and offer timers run on the owner as for any
// call. A node that dies ends, on the others, every call it took part in
// with connectivity-error within NodeTimeout plus a heartbeat.
//
// # Calls that ring on several nodes
//
// A SIP registrar user may have bindings on several nodes (each publishes
// "<user>@<node>", ShareSIPBindings). ForkDialer rings all of them at
// once with gateway.Fork: one branch per node, this node's through its
// local dialer, the others' through Dial, each behind a relay call that
// posts into the fork. The first answer wins and the others are hung up
// (gateway.ReasonAnsweredElsewhere); a branch whose node refuses the dial
// or dies is one failed branch; when all fail the caller gets the best
// failure. The owner endpoint of a remote branch reports its node
// (gateway.RemoteLeg), so the owner's sigbridge_calls_total and the
// call's end record say the call crossed nodes.
//
// # Files
//
//	config.go     Config and its defaults
//	errors.go     sentinel errors
//	node.go       Node: the NATS connection, Start, Ready, Close, the run loop
//	liveness.go   heartbeats, boots and the table of live nodes
//	registry.go   Claim, Release, Lookup, List, Watch; operations ordered per key
//	watch.go      the KV watch that feeds the mirror; reconcile and reaping
//	mirror.go     the in-memory copy of the bucket, filtered by liveness
//	fifo.go       a queue with one consumer, unbounded or bounded, memory only while items wait
//	dialer.go     RemoteDialer, Locator, Serve, Dial and serving dials
//	wire.go       the JSON messages between nodes
//	endpoint.go   one node's half of a call between two nodes (remote leg, relay)
//	calltable.go  the node's endpoints, by call and peer
//	metrics.go    Prometheus collectors and Stats
//	election.go   Lead, LeaderLocator: one node holds a key (the XMPP component)
//	sipbindings.go ShareSIPBindings: which nodes hold a SIP user's bindings
//	statestore.go StateStore: entries that outlive their writer (XMPP devices)
//	fork.go       ForkDialer, Spread: a target held on several nodes rings on all (gateway.Fork)
//
// README.md is for operators (configuration, metrics, limits).
package cluster
