package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigTURNSecretFromEnv: ws.turn reads its secret from the
// environment variable it names; a missing variable is a configuration
// error at start, and so is a static TURN password in ice_servers.
func TestConfigTURNSecretFromEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "turn.yaml")
	turn := "ws:\n  turn:\n    urls: [\"turn:127.0.0.1:3478\"]\n    secret_env: SIGBRIDGE_TEST_CFG_TURN\n    ttl: 10m\n"
	if err := os.WriteFile(path, []byte(turn), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), "SIGBRIDGE_TEST_CFG_TURN is not set") {
		t.Fatalf("missing secret env: got %v", err)
	}
	t.Setenv("SIGBRIDGE_TEST_CFG_TURN", "s3cret")
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WS.TURN.TTL.Minutes() != 10 || cfg.WS.TURN.URLs[0] != "turn:127.0.0.1:3478" {
		t.Fatalf("ws.turn %+v", cfg.WS.TURN)
	}
	static := "ws:\n  ice_servers: [{urls: [\"turn:127.0.0.1:3478\"], username: u, credential: p}]\n"
	if err := os.WriteFile(path, []byte(static), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), "static username/credential") {
		t.Fatalf("static TURN password: got %v", err)
	}
}
