package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/gateway"
)

// Node is this process's membership of the cluster.
type Node struct {
	cfg     Config
	log     *slog.Logger
	self    holder
	nc      *nats.Conn
	js      jetstream.JetStream
	live    *liveness
	mir     *mirror
	metrics *metrics
	subj    subjects

	kv      atomic.Pointer[jetstream.KeyValue] // nil until the bucket is open
	synced  atomic.Bool                        // the mirror holds a complete copy
	events  chan connEvent                     // connection changes, to run
	shards  []*shard                           // registry operations, ordered per key
	owned   ownedSet
	reaping sync.Map // KV keys with a reap queued
	lostMu  sync.Mutex
	lostFns []func(kind, key string)

	calls   callTable
	dialMu  sync.RWMutex
	dialers map[string]gateway.Dialer    // scheme → local dialer served to other nodes
	dialSem chan struct{}                // bounds dials served at once
	admit   atomic.Pointer[func() error] // SetAdmission

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

type connEvent int

const (
	connUp connEvent = iota
	connDown
)

// Start connects to NATS and joins the cluster. It does not wait for NATS:
// a node that cannot reach it is not Ready, and keeps trying (ctx bounds
// only Start itself). reg may be nil; when several nodes share one
// registry, wrap it with a node label (cmd/sigbridge wraps its registry
// with node=cfg.Node).
func Start(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("cluster: no nats URLs")
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	self := holder{cfg.Node, newBoot(time.Now())}
	live := newLiveness(self, cfg.NodeTimeout)
	n := &Node{cfg: cfg, log: log.With("node", cfg.Node), self: self, live: live, mir: newMirror(live),
		metrics: newMetrics(reg), subj: newSubjects(cfg.Prefix), events: make(chan connEvent, 16),
		dialers: map[string]gateway.Dialer{}, dialSem: make(chan struct{}, maxDialsServed)}
	n.calls.init()
	n.owned.init()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.connect(); err != nil {
		n.cancel()
		return nil, err
	}
	n.startShards()
	n.wg.Add(1)
	go n.run()
	return n, nil
}

func (n *Node) connect() error {
	opts := []nats.Option{
		nats.Name("sigbridge " + n.cfg.Node),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(n.cfg.HeartbeatInterval * 2),
		nats.MaxPingsOutstanding(2),
		nats.Timeout(n.cfg.DialTimeout),
		nats.ConnectHandler(func(*nats.Conn) { n.connEvent(connUp) }),
		nats.ReconnectHandler(func(*nats.Conn) { n.connEvent(connUp) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.connEvent(connDown) }),
	}
	nc, err := nats.Connect(joinURLs(n.cfg.NATS), opts...)
	if err != nil {
		return fmt.Errorf("cluster: nats: %w", err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	if err := n.subscribe(); err != nil {
		nc.Close()
		return err
	}
	if nc.IsConnected() {
		n.connEvent(connUp)
	}
	return nil
}

func (n *Node) connEvent(e connEvent) {
	if e == connDown {
		n.synced.Store(false)
		n.metrics.ready.Set(0)
	}
	select {
	case n.events <- e:
	default: // run catches up from IsConnected
	}
}

// subscribe listens to heartbeats, dials and call events; nats.go renews
// the subscriptions after a reconnect.
func (n *Node) subscribe() error {
	subs := []struct {
		subj string
		fn   nats.MsgHandler
	}{
		{n.subj.heartbeat, n.onHeartbeat},
		{n.subj.dial(n.cfg.Node), n.onDial},
		{n.subj.call(n.cfg.Node), n.onCallMsg},
	}
	for _, s := range subs {
		sub, err := n.nc.Subscribe(s.subj, s.fn)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", s.subj, err)
		}
		_ = sub.SetPendingLimits(1<<16, 64<<20)
	}
	return nil
}

// Name is this node's name.
func (n *Node) Name() string { return n.cfg.Node }

// Ready reports whether NATS is reachable and the registry mirror holds a
// complete copy of the bucket.
func (n *Node) Ready() bool { return !n.closed.Load() && n.nc.IsConnected() && n.synced.Load() }

// Alive reports whether node is alive (this node always is).
func (n *Node) Alive(node string) bool {
	_, ok := n.live.current(node)
	return ok
}

// Nodes returns the names of the live nodes, this one included, sorted.
func (n *Node) Nodes() []string { return n.live.nodes() }

// Close ends the calls that cross this node (their other legs get
// general-error/503, as at any shutdown), says bye (the others drop its
// registry entries at once instead of after NodeTimeout) and disconnects.
// NATS being unreachable is no error: the others then notice the silence.
func (n *Node) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	n.calls.endAll(gateway.ReasonShutdown)
	n.waitCalls(2 * time.Second)
	n.sayBye()
	n.cancel()
	n.wg.Wait()
	if err := n.nc.Drain(); err != nil {
		n.log.Info("cluster: NATS connection not drained", "err", err)
	}
	n.waitClosed()
	n.metrics.ready.Set(0)
	return nil
}

// waitCalls waits (briefly) for the endpoints to tell their peers.
func (n *Node) waitCalls(d time.Duration) {
	deadline := time.Now().Add(d)
	for n.calls.count() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// sayBye tells the others this boot is leaving: they drop its registry
// entries at once (the first of them deletes them) instead of after
// NodeTimeout. It goes to each node's call subject, after this node's
// last call events to it, so that the hang-ups arrive first.
func (n *Node) sayBye() {
	if !n.nc.IsConnected() {
		return
	}
	for _, node := range n.live.nodes() {
		if node != n.cfg.Node {
			_ = n.nc.Publish(n.subj.call(node), mustJSON(callMsg{Node: n.cfg.Node, Boot: n.self.boot, Type: typeBye}))
		}
	}
	_ = n.nc.FlushTimeout(time.Second)
}

// waitClosed waits (briefly) for Drain to flush and close the connection.
func (n *Node) waitClosed() {
	deadline := time.Now().Add(2 * time.Second)
	for !n.nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n.nc.Close()
}

// run owns the node's periodic work: heartbeats, liveness, reaping and
// reconnecting the registry.
func (n *Node) run() {
	defer n.wg.Done()
	hb := time.NewTicker(n.cfg.HeartbeatInterval)
	defer hb.Stop()
	var w *kvWatch
	defer func() { w.stop() }()
	resync := time.NewTimer(0)
	defer resync.Stop()
	// The registry is opened off this goroutine (a slow JetStream must not
	// delay heartbeats); opening says one is under way.
	opened := make(chan openResult, 1)
	opening := false
	n.heartbeat()
	for {
		select {
		case <-n.ctx.Done():
			if opening {
				r := <-opened
				r.w.stop()
			}
			return
		case e := <-n.events:
			n.live.setConnected(e == connUp && n.nc.IsConnected(), time.Now())
			if e == connUp {
				n.heartbeat()
				resync.Reset(0)
			}
		case <-resync.C:
			if opening {
				resync.Reset(n.cfg.HeartbeatInterval)
				break
			}
			w.stop() // before the new copy loads: no stale update after it
			w, opening = nil, true
			go func() {
				w, err := n.openRegistry()
				opened <- openResult{w, err}
			}()
		case r := <-opened:
			opening = false
			if r.err != nil {
				n.log.Warn("cluster registry not available; retrying", "err", r.err)
				resync.Reset(n.cfg.HeartbeatInterval)
				break
			}
			w = r.w
		case <-hb.C:
			if up := n.nc.IsConnected(); up != n.live.isConnected() { // an event lost to a full channel
				n.live.setConnected(up, time.Now())
				if up {
					resync.Reset(0)
				}
			}
			n.heartbeat()
			n.checkPeers()
			n.reap()
		case <-w.doneChan():
			n.synced.Store(false)
			w = nil
			resync.Reset(n.cfg.HeartbeatInterval)
		}
	}
}

type openResult struct {
	w   *kvWatch
	err error
}

func (n *Node) heartbeat() {
	if !n.nc.IsConnected() {
		return
	}
	hb := encodeHeartbeat(n.self)
	if err := n.nc.Publish(n.subj.heartbeat, hb); err == nil {
		n.metrics.sent("heartbeat", len(hb))
	}
}

func (n *Node) onHeartbeat(m *nats.Msg) {
	h, ok := decodeHeartbeat(m.Data)
	if !ok {
		return
	}
	n.metrics.received("heartbeat", len(m.Data))
	n.peerHeard(h, false)
}

// peerLeft: that boot said bye.
func (n *Node) peerLeft(h holder) {
	if n.live.left(h) {
		n.log.Info("cluster node left", "peer", h.node)
		n.calls.peerGone(h)
		n.mir.livenessChanged()
		n.metrics.nodes.Set(float64(len(n.live.nodes())))
	}
}

// peerHeard updates liveness and, if the node's state changed, what the
// mirror shows and the calls of a replaced boot.
func (n *Node) peerHeard(h holder, expect bool) {
	wasDead := !expect && n.live.stale(h)
	replaced, changed := n.live.heard(h, time.Now(), expect)
	if !changed {
		return
	}
	n.calls.forgetOrphans(h) // calls with earlier boots of h died with them
	if replaced.node != "" {
		n.log.Info("cluster node restarted", "peer", h.node)
		n.calls.peerGone(replaced)
		n.calls.forgetOrphans(h)
	} else if !expect {
		n.log.Info("cluster node alive", "peer", h.node)
	}
	if wasDead {
		n.hangUpOrphans(h)
	}
	n.mir.livenessChanged()
	n.metrics.nodes.Set(float64(len(n.live.nodes())))
}

// hangUpOrphans: a node this one declared dead is back (it was cut off
// from NATS, not gone). The calls ended here when it died may still be up
// there: it is told they are over.
func (n *Node) hangUpOrphans(h holder) {
	ids := n.calls.takeOrphans(h)
	if len(ids) > 0 {
		n.log.Info("cluster node back after it was declared dead; ending its calls with this node", "peer", h.node, "calls", len(ids))
	}
	for _, id := range ids {
		n.abandonDial(id, h.node)
	}
}

// checkPeers ends what depended on nodes that fell silent.
func (n *Node) checkPeers() {
	dead := n.live.check(time.Now())
	if len(dead) == 0 {
		return
	}
	for _, h := range dead {
		n.log.Warn("cluster node lost", "peer", h.node, "timeout", n.cfg.NodeTimeout)
		n.calls.peerGone(h)
	}
	n.mir.livenessChanged()
	n.metrics.nodes.Set(float64(len(n.live.nodes())))
}

func joinURLs(urls []string) string {
	out := ""
	for i, u := range urls {
		if i > 0 {
			out += ","
		}
		out += u
	}
	return out
}
