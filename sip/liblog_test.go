package sip

import (
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestRouteLibraryLogs: sipgo's package-wide records reach our logger at
// debug level, tagged component=sipgo. sipgo's global is not safe to set
// while sipgo runs, so the check runs in a child process of its own.
func TestRouteLibraryLogs(t *testing.T) {
	if os.Getenv("SIGBRIDGE_LIBLOG_CHILD") == "1" {
		log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
		RouteLibraryLogs(log)
		sip.DefaultLogger().Warn("TCP ref went negative")
		quiet := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
		RouteLibraryLogs(quiet)
		sip.DefaultLogger().Warn("hidden at info level")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRouteLibraryLogs$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SIGBRIDGE_LIBLOG_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, `level=DEBUG msg="TCP ref went negative" component=sipgo`) {
		t.Errorf("sipgo's record not routed and demoted:\n%s", s)
	}
	if strings.Contains(s, "hidden at info level") {
		t.Errorf("a demoted record passed an info-level logger:\n%s", s)
	}
}
