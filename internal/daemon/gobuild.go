package daemon

import (
	"context"
	"fmt"
	"os/exec"
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
