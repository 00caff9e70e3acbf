package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// GoBuild runs `go build -o out pkg` (a test main builds the sigbridge
// command once for all its tests; natstest builds nats-server). The error
// carries the compiler's output.
func GoBuild(ctx context.Context, out, pkg string) error {
	b, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// BuildAndRun is the body of a test main that needs a Go command built
// once for all its tests: it builds pkg into a new temporary directory
// (bounded by 5 minutes), calls run with the binary's path, removes the
// directory and returns run's exit code, or 1 (the error on stderr) when
// the build fails.
func BuildAndRun(pkg string, run func(bin string) int) int {
	dir, err := os.MkdirTemp("", "sigbridge-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err = GoBuild(ctx, bin, pkg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return run(bin)
}
