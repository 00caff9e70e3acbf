package cluster

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Defaults.
const (
	DefaultHeartbeatInterval = time.Second
	DefaultNodeTimeout       = 3 * time.Second
	DefaultDialTimeout       = 2 * time.Second
	DefaultCallQueue         = 256
	DefaultPrefix            = "sigbridge"
)

// Config is the cluster section of the configuration file. A Config
// without NATS URLs is a single process (Enabled is false).
type Config struct {
	// NATS lists the servers' URLs ("nats://127.0.0.1:4222").
	NATS []string `yaml:"nats"`
	// Node names this node, unique in the cluster ([A-Za-z0-9_-], at
	// most 64 characters).
	Node string `yaml:"node"`
	// HeartbeatInterval is how often the node says it is alive.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// NodeTimeout is how long a silent node is still alive.
	NodeTimeout time.Duration `yaml:"node_timeout"`
	// DialTimeout bounds asking another node for a callee leg.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// CallQueue bounds the events queued per call and direction.
	CallQueue int `yaml:"call_queue"`
	// Prefix starts every subject and names the KV bucket, so that two
	// clusters can share one NATS.
	Prefix string `yaml:"prefix"`
}

// Enabled reports whether the node is part of a cluster.
func (c Config) Enabled() bool { return len(c.NATS) > 0 }

// DefaultConfig is the configuration without a cluster, with the
// defaults of the other fields filled in.
func DefaultConfig() Config {
	return Config{HeartbeatInterval: DefaultHeartbeatInterval, NodeTimeout: DefaultNodeTimeout,
		DialTimeout: DefaultDialTimeout, CallQueue: DefaultCallQueue, Prefix: DefaultPrefix}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = d.NodeTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.CallQueue <= 0 {
		c.CallQueue = d.CallQueue
	}
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	return c
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks a configuration that is Enabled.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if !nameRE.MatchString(c.Node) {
		return fmt.Errorf("cluster: node %q: want 1-64 of A-Z a-z 0-9 _ -", c.Node)
	}
	if !nameRE.MatchString(c.withDefaults().Prefix) {
		return fmt.Errorf("cluster: prefix %q: want 1-64 of A-Z a-z 0-9 _ -", c.Prefix)
	}
	c = c.withDefaults()
	if c.NodeTimeout < 2*c.HeartbeatInterval {
		return errors.New("cluster: node_timeout must be at least twice heartbeat_interval")
	}
	return nil
}
