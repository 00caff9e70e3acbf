package natstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sigbridge/sigbridge/internal/daemon"
)

// module is the nats-server module go.mod pins with a tool directive.
const module = "github.com/nats-io/nats-server/v2"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of a nats-server executable: one in PATH, else
// the version go.mod pins, built once into the user's cache directory
// (shared by every test process; built to a temporary name and renamed, so
// concurrent builds never see half a file).
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = findOrBuild() })
	return binPath, binErr
}

func findOrBuild() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	version, err := pinnedVersion()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sigbridge")
	path := filepath.Join(dir, "nats-server-"+version)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "nats-server-build-*")
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := daemon.GoBuild(context.Background(), tmp.Name(), module); err != nil {
		return "", fmt.Errorf("build %s@%s: %w", module, version, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("install nats-server: %w", err)
	}
	return path, nil
}

// pinnedVersion asks the go command which version of the module go.mod pins.
func pinnedVersion() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", module).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w\n%s", module, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
