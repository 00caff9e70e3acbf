package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// clientsDir is the npm project of the third-party browser clients.
const clientsDir = "testdata/clients"

// npmCI installs the clients' npm project (jssip, stanza, esbuild; never a
// browser) unless it is installed; it needs the network, so tests call it
// before they enter their network namespace.
func npmCI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", ".bin", "esbuild")); err == nil {
		return
	}
	npm := needTool(t, "npm", "npm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = clientsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", clientsDir, err, out)
	}
}

// buildClients bundles JsSIP and StanzaJS with esbuild.
func buildClients(t *testing.T) *Clients {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := BuildClients(ctx, clientsDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestThirdPartyClients runs the third-party rows of the matrix against a
// local gateway, in a network namespace holding only lo (plus clientAddr):
// JsSIP and StanzaJS in headless Chromium, baresip, and the plain-RTP
// refusal. INTEROP_THIRDPARTY narrows the scenarios (a regexp).
func TestThirdPartyClients(t *testing.T) {
	npmCI(t)
	if inLoopbackNetns(t) {
		return
	}
	l := startLocalXMPP(t)
	dep := l.Deployment
	dep.Chromium = chromiumPath(t)
	dep.SIPp = needTool(t, "sipp", "sip-tester")
	dep.Baresip = needTool(t, "baresip", "baresip-core")
	dep.Clients = buildClients(t)
	t.Logf("JsSIP %s, StanzaJS %s; SIP registrar: %v", dep.Clients.JsSIPVersion, dep.Clients.StanzaVersion, dep.SIP.Registrar)
	scs, err := Select(ThirdPartyScenarios(), os.Getenv("INTEROP_THIRDPARTY"))
	if err != nil || len(scs) == 0 {
		t.Fatalf("select: %v (%d)", err, len(scs))
	}
	rs := runMatrix(t, dep, scs, 6*time.Minute)
	for _, r := range rs {
		if r.Status != Pass {
			t.Errorf("%s: %s", r.Scenario, r.Status)
		}
	}
}

// TestJsSIPDefaultDigest runs JsSIP against the gateway's default digest
// challenges (SHA-256 first, then MD5, one WWW-Authenticate each): JsSIP
// keeps the last one, MD5, and registers and calls out.
func TestJsSIPDefaultDigest(t *testing.T) {
	npmCI(t)
	if inLoopbackNetns(t) {
		return
	}
	l := startLocalWith(t, LocalOptions{DigestAlgorithms: []string{"SHA-256", "MD5"}})
	dep := l.Deployment
	dep.Chromium = chromiumPath(t)
	dep.Clients = buildClients(t)
	if !dep.SIP.Registrar {
		t.Fatal("the gateway has no registrar")
	}
	scs, err := Select(ThirdPartyScenarios(), `jssip-callee-hangs-up`)
	if err != nil || len(scs) != 2 {
		t.Fatalf("select: %v (%d)", err, len(scs))
	}
	for _, r := range runMatrix(t, dep, scs, 2*time.Minute) {
		if r.Status != Pass {
			t.Errorf("%s: %s", r.Scenario, r.Status)
		}
	}
}
