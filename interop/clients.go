package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Clients are the third-party browser libraries the harness runs in
// headless Chromium, bundled at run time with esbuild from an npm project
// (testdata/clients: package.json, package-lock.json and the agent
// sources; `npm ci` installs jssip, stanza and esbuild). Nothing prebuilt is
// committed.
type Clients struct {
	// JsSIP and Stanza are the bundled agent scripts (an IIFE each that
	// defines window.interopAgent).
	JsSIP, Stanza string
	// JsSIPVersion and StanzaVersion are the installed library versions.
	JsSIPVersion, StanzaVersion string
}

// clientBundleTimeout bounds one esbuild run.
const clientBundleTimeout = 2 * time.Minute

// BuildClients bundles the agents of the npm project dir (installed with
// `npm ci`) with its own esbuild.
func BuildClients(ctx context.Context, dir string) (*Clients, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("interop: clients: %w", err)
	}
	esbuild := filepath.Join(dir, "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		return nil, fmt.Errorf("interop: clients: %w (run `npm ci` in %s; the README's test command does)", err, dir)
	}
	out, err := os.MkdirTemp("", "interop-clients-")
	if err != nil {
		return nil, fmt.Errorf("interop: clients: %w", err)
	}
	defer os.RemoveAll(out)
	c := &Clients{}
	for _, b := range []struct {
		entry string
		dst   *string
		pkg   string
		ver   *string
	}{{"jssip_agent.js", &c.JsSIP, "jssip", &c.JsSIPVersion}, {"stanza_agent.js", &c.Stanza, "stanza", &c.StanzaVersion}} {
		file := filepath.Join(out, b.entry)
		if err := runESBuild(ctx, esbuild, dir, b.entry, file); err != nil {
			return nil, err
		}
		js, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("interop: clients: %w", err)
		}
		*b.dst = string(js)
		if *b.ver, err = packageVersion(dir, b.pkg); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func runESBuild(ctx context.Context, esbuild, dir, entry, outfile string) error {
	ctx, cancel := context.WithTimeout(ctx, clientBundleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, esbuild, entry, "--bundle", "--format=iife", "--platform=browser",
		"--target=chrome100", "--log-level=warning", "--outfile="+outfile)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("interop: esbuild %s: %w: %s", entry, err, b)
	}
	return nil
}

// packageVersion reads the version of an installed npm package.
func packageVersion(dir, pkg string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
	if err != nil {
		return "", fmt.Errorf("interop: clients: %w", err)
	}
	var p struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Version == "" {
		return "", errors.Join(fmt.Errorf("interop: clients: no version in %s's package.json", pkg), err)
	}
	return p.Version, nil
}
