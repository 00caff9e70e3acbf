package rtpengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrUnavailable: no configured instance answered (all down, or the
	// instance that holds the call is down).
	ErrUnavailable = errors.New("rtpengine unavailable")
	// ErrTimeout wraps a request that got no reply in time.
	ErrTimeout = errors.New("no reply")
	// ErrRefused wraps an ng reply with result "error".
	ErrRefused = errors.New("rtpengine refused")
)

// Config configures a Client.
type Config struct {
	NG           []string      // ng addresses host:port, in order of preference
	Timeout      time.Duration // one request, retransmissions included (default 1 s)
	Retransmit   time.Duration // interval between retransmissions (default 250 ms)
	PingInterval time.Duration // health pings (default 5 s; 0 uses the default)
	Logger       *slog.Logger
	Metrics      *Metrics // nil: not counted
}

// Client drives one or more rtpengine instances over the ng protocol. A new
// call goes to the first healthy instance (in configuration order); once
// an instance accepted a call's offer, every later request for that
// call-id goes to it (the session lives there). Health pings mark
// instances up and down; a request that times out marks its instance down
// at once.
type Client struct {
	cfg   Config
	log   *slog.Logger
	insts []*instance

	mu     sync.Mutex
	sticky map[string]*instance // call-id → instance holding its session

	stop chan struct{}
	done chan struct{}
}

type instance struct {
	conn *conn
	mu   sync.Mutex
	up   bool
}

func (i *instance) healthy() bool { i.mu.Lock(); defer i.mu.Unlock(); return i.up }

// set records a health verdict and the instance's gauge (under one lock,
// so concurrent verdicts leave the gauge equal to the state).
func (i *instance) set(up bool, m *Metrics) (changed bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	changed, i.up = i.up != up, up
	m.up(i.conn.addr, up)
	return changed
}

// New opens a socket to every instance and starts the health pings. Close
// stops them.
func New(cfg Config) (*Client, error) {
	if len(cfg.NG) == 0 {
		return nil, errors.New("rtpengine: no ng address")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Retransmit <= 0 {
		cfg.Retransmit = 250 * time.Millisecond
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: cfg.Logger, sticky: map[string]*instance{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, a := range cfg.NG {
		cn, err := dial(a)
		if err != nil {
			c.closeConns()
			return nil, err
		}
		// Optimistic until the first ping says otherwise, so a call right
		// after start-up is not refused.
		c.insts = append(c.insts, &instance{conn: cn, up: true})
		cfg.Metrics.up(a, true)
	}
	go c.health()
	return c, nil
}

// Close stops the health pings and closes the sockets.
func (c *Client) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	<-c.done
	c.closeConns()
}

func (c *Client) closeConns() {
	for _, i := range c.insts {
		i.conn.close()
	}
}

// Addrs are the configured instances.
func (c *Client) Addrs() []string { return append([]string(nil), c.cfg.NG...) }

// Healthy reports whether at least one instance answered its last ping.
func (c *Client) Healthy() bool {
	for _, i := range c.insts {
		if i.healthy() {
			return true
		}
	}
	return false
}

func (c *Client) health() {
	defer close(c.done)
	c.pingAll()
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.pingAll()
		}
	}
}

func (c *Client) pingAll() {
	var wg sync.WaitGroup
	for _, i := range c.insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			defer cancel()
			_, err := c.do(ctx, i, Dict{"command": "ping"})
			c.mark(i, err == nil, err)
		}()
	}
	wg.Wait()
}

func (c *Client) mark(i *instance, up bool, err error) {
	if !i.set(up, c.cfg.Metrics) {
		return
	}
	if up {
		c.log.Info("rtpengine instance up", "ng", i.conn.addr)
		return
	}
	c.log.Warn("rtpengine instance down", "ng", i.conn.addr, "err", err)
}

// Ping pings every instance now and reports the first failure.
func (c *Client) Ping(ctx context.Context) error {
	var first error
	for _, i := range c.insts {
		_, err := c.do(ctx, i, Dict{"command": "ping"})
		c.mark(i, err == nil, err)
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// do sends one request to one instance and decodes the reply. A reply with
// result "error" becomes ErrRefused with rtpengine's error-reason.
func (c *Client) do(ctx context.Context, i *instance, req Dict) (Dict, error) {
	cmd := req.Str("command")
	msg, err := Encode(nil, map[string]any(req))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	raw, err := i.conn.exchange(ctx, msg, c.cfg.Retransmit)
	c.cfg.Metrics.latency(cmd, time.Since(start), err == nil)
	if err != nil {
		c.cfg.Metrics.error(cmd, "timeout")
		return nil, err
	}
	v, err := Decode(raw)
	if err != nil {
		c.cfg.Metrics.error(cmd, "decode")
		return nil, fmt.Errorf("rtpengine %s %s: %w", i.conn.addr, cmd, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.cfg.Metrics.error(cmd, "decode")
		return nil, fmt.Errorf("rtpengine %s %s: %w: reply is not a dictionary", i.conn.addr, cmd, ErrBencode)
	}
	reply := Dict(m)
	switch reply.Str("result") {
	case "ok", "pong":
		if w := reply.Str("warning"); w != "" && cmd != "delete" {
			c.log.Warn("rtpengine warning", "ng", i.conn.addr, "command", cmd, "warning", w)
		}
		return reply, nil
	case "error":
		c.cfg.Metrics.error(cmd, "refused")
		return reply, fmt.Errorf("rtpengine %s %s: %w: %s", i.conn.addr, cmd, ErrRefused, reply.Str("error-reason"))
	default:
		c.cfg.Metrics.error(cmd, "decode")
		return reply, fmt.Errorf("rtpengine %s %s: unexpected result %q", i.conn.addr, cmd, reply.Str("result"))
	}
}

// Do sends req for callID: to the instance holding the call, else (a new
// call) to the first healthy instance, trying the next on a timeout. An
// answer "ok" to an offer makes the instance sticky for callID.
func (c *Client) Do(ctx context.Context, callID string, req Dict) (Dict, error) {
	c.mu.Lock()
	held := c.sticky[callID]
	c.mu.Unlock()
	if held != nil {
		reply, err := c.do(ctx, held, req)
		if errors.Is(err, ErrTimeout) {
			c.mark(held, false, err)
			return nil, fmt.Errorf("%w: the instance holding call %q does not answer: %w", ErrUnavailable, callID, err)
		}
		return reply, err
	}
	var last error
	tried := 0
	for _, i := range c.order() {
		tried++
		reply, err := c.do(ctx, i, req)
		if errors.Is(err, ErrTimeout) {
			c.mark(i, false, err)
			last = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if err == nil && req.Str("command") == "offer" {
			c.mu.Lock()
			c.sticky[callID] = i
			c.mu.Unlock()
		}
		return reply, err
	}
	if tried == 0 {
		return nil, fmt.Errorf("%w: no healthy instance of %v", ErrUnavailable, c.cfg.NG)
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, last)
}

// order is the healthy instances in configuration order, then (as a last
// resort, when none is healthy) none: a relay the pings call down is not
// tried for new calls.
func (c *Client) order() []*instance {
	var out []*instance
	for _, i := range c.insts {
		if i.healthy() {
			out = append(out, i)
		}
	}
	return out
}

// forget drops callID's stickiness.
func (c *Client) forget(callID string) {
	c.mu.Lock()
	delete(c.sticky, callID)
	c.mu.Unlock()
}
