package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/ws"
	"github.com/sigbridge/sigbridge/xmpp"
)

// Config is the whole configuration file. Every field has an embedded
// default; unknown keys are an error.
type Config struct {
	HTTP string `yaml:"http"`
	// AllowedHosts are the names (or name:port) the HTTP listener answers
	// besides its own address and, on loopback, localhost (see hostPolicy).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowAnonymous lets the HTTP listener bind beyond loopback without
	// ws.token_secret.
	AllowAnonymous bool           `yaml:"allow_anonymous"`
	LogLevel       string         `yaml:"log_level"`
	DrainTimeout   time.Duration  `yaml:"drain_timeout"`
	Gateway        gateway.Config `yaml:"gateway"`
	WS             ws.Config      `yaml:"ws"`
	SIP            sip.Config     `yaml:"sip"`
	XMPP           xmpp.Config    `yaml:"xmpp"`
	// RTPEngine anchors media for plain-RTP SIP peers (sip/README.md).
	RTPEngine sip.RTPEngineConfig `yaml:"rtpengine"`
	// Cluster makes this process one node of several (package cluster);
	// without nats URLs it is a single process.
	Cluster cluster.Config `yaml:"cluster"`
	// Runtime tunes Go's garbage collector (goruntime.go).
	Runtime RuntimeConfig `yaml:"runtime"`
}

// sipOff as sip.listen (or --sip) turns the SIP adapter off.
const sipOff = "off"

func (c Config) sipEnabled() bool { return c.SIP.Listen != sipOff }

func defaultConfig() Config {
	return Config{HTTP: "127.0.0.1:8080", LogLevel: "info", DrainTimeout: 30 * time.Second,
		Gateway: gateway.DefaultConfig(), WS: ws.DefaultConfig(), SIP: sip.Config{Listen: sip.DefaultListen},
		RTPEngine: sip.DefaultRTPEngineConfig(),
		Cluster:   cluster.DefaultConfig(), Runtime: defaultRuntimeConfig()}
}

// loadConfig reads a YAML file over the defaults, rejecting unknown keys.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	if c.HTTP == "" {
		return errors.New("config: http address is empty")
	}
	if c.DrainTimeout < 0 {
		return errors.New("config: drain_timeout is negative")
	}
	if err := c.WS.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Cluster.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Runtime.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for _, h := range c.AllowedHosts {
		if _, _, _, err := parseHostEntry(h); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}
