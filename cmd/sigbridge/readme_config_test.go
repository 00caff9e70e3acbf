package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/ws"
	"github.com/sigbridge/sigbridge/xmpp"
)

// TestREADMEConfigExample: the configuration block of the README is a
// valid configuration (strict: every key exists) and says the defaults.
func TestREADMEConfigExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Configuration")
	if i < 0 {
		t.Fatal("README has no Configuration section")
	}
	start := strings.Index(s[i:], "```yaml\n")
	if start < 0 {
		t.Fatal("README's Configuration section has no yaml block")
	}
	block := s[i+start+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	path := filepath.Join(t.TempDir(), "readme.yaml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatalf("README configuration example: %v", err)
	}
	if cfg.SIP.DialogProbeInterval != sip.DefaultDialogProbeInterval ||
		cfg.SIP.DialogProbeTimeout != sip.DefaultDialogProbeTimeout ||
		cfg.XMPP.SessionPingInterval != xmpp.DefaultSessionPingInterval ||
		cfg.XMPP.SessionPingTimeout != xmpp.DefaultSessionPingTimeout {
		t.Errorf("README shows probes %v/%v and pings %v/%v, not the defaults",
			cfg.SIP.DialogProbeInterval, cfg.SIP.DialogProbeTimeout, cfg.XMPP.SessionPingInterval, cfg.XMPP.SessionPingTimeout)
	}
	if got := strings.Join(cfg.SIP.DigestAlgorithms, ","); got != strings.Join(sip.DefaultDigestAlgorithms(), ",") {
		t.Errorf("README shows sip.digest_algorithms %q, default %v", got, sip.DefaultDigestAlgorithms())
	}
	if cfg.SIP.RegistrarMinExpires != sip.DefaultRegistrarMinExpires ||
		cfg.SIP.RegistrarMaxExpires != sip.DefaultRegistrarMaxExpires ||
		cfg.SIP.RegistrarDefaultExpires != sip.DefaultRegistrarDefaultExpires {
		t.Errorf("README shows registrar expiries %v/%v/%v, not the defaults",
			cfg.SIP.RegistrarMinExpires, cfg.SIP.RegistrarMaxExpires, cfg.SIP.RegistrarDefaultExpires)
	}
	if cfg.SIP.UDPReadBuffer != sip.DefaultUDPReadBuffer || cfg.SIP.UDPWriteBuffer != sip.DefaultUDPWriteBuffer ||
		cfg.SIP.UDPReaders != sip.DefaultUDPReaders {
		t.Errorf("README shows sip UDP buffers %d/%d and %d readers, defaults %d/%d and %d",
			cfg.SIP.UDPReadBuffer, cfg.SIP.UDPWriteBuffer, cfg.SIP.UDPReaders,
			sip.DefaultUDPReadBuffer, sip.DefaultUDPWriteBuffer, sip.DefaultUDPReaders)
	}
	if d := ws.DefaultConfig().TURN; len(cfg.WS.TURN.URLs) != 0 || cfg.WS.TURN.SecretEnv != d.SecretEnv || cfg.WS.TURN.TTL != d.TTL {
		t.Errorf("README shows ws.turn %+v, default %+v", cfg.WS.TURN, d)
	}
	if d := sip.DefaultRTPEngineConfig(); len(cfg.RTPEngine.NG) != 0 || cfg.RTPEngine.Timeout != d.Timeout ||
		cfg.RTPEngine.PingInterval != d.PingInterval || cfg.RTPEngine.SweepInterval != d.SweepInterval ||
		cfg.RTPEngine.InjectDTMF != d.InjectDTMF {
		t.Errorf("README shows rtpengine %+v, default %+v", cfg.RTPEngine, d)
	}
	if d := cluster.DefaultConfig(); cfg.Cluster.Enabled() || cfg.Cluster.Node != "" || cfg.Cluster.HeartbeatInterval != d.HeartbeatInterval ||
		cfg.Cluster.NodeTimeout != d.NodeTimeout || cfg.Cluster.DialTimeout != d.DialTimeout ||
		cfg.Cluster.CallQueue != d.CallQueue || cfg.Cluster.Prefix != d.Prefix {
		t.Errorf("README shows cluster %+v, default %+v", cfg.Cluster, d)
	}
	if cfg.Gateway != gateway.DefaultConfig() {
		t.Errorf("README shows gateway %+v, defaults %+v", cfg.Gateway, gateway.DefaultConfig())
	}
	if cfg.Runtime != defaultRuntimeConfig() {
		t.Errorf("README shows runtime %+v, defaults %+v", cfg.Runtime, defaultRuntimeConfig())
	}
}
