package sip

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestConfigYAML: the README's example decodes with strict field checking.
func TestConfigYAML(t *testing.T) {
	src := `
listen: 0.0.0.0:5060
host: gw.example.org
tls_listen: 0.0.0.0:5061
ws_listen: 0.0.0.0:8089
ws_path: /sip
routes:
  - name: us-trunk
    prefix: "tel:+1"
    proxy: sip:trunk.example.net:5060;transport=tcp
    username: gw42
    password_env: TRUNK_PASSWORD
  - name: pbx
    match: '^sip:[0-9]{3,4}@pbx\.example\.org$'
    numbers: '^[0-9]{3,4}$'
    transport: udp
trusted_sources: [192.0.2.0/28, 10.1.2.3]
inbound_users:
  - {username: deskphone, password: s3cret}
accounts:
  - name: office
    registrar: sip:registrar.example.org;transport=tcp
    username: "4711"
    password: pw
    expires: 300s
    local_user: alice
max_calls_per_user: 4
calls_per_second: 2
calls_burst: 10
retry_after: 30s
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Accounts[0].Expires != 300*time.Second || cfg.RetryAfter != 30*time.Second {
		t.Errorf("durations: %v %v", cfg.Accounts[0].Expires, cfg.RetryAfter)
	}
	t.Setenv("TRUNK_PASSWORD", "x")
	a, err := New(cfg, nil, nil, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_ = a.Close()
	if a.routes[0].transport != "TCP" || a.routes[0].password != "x" || a.routes[0].domain != "trunk.example.net" {
		t.Errorf("route 0 compiled as %+v", a.routes[0])
	}
}
