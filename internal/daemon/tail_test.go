package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMatchingLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte("a WARN 1\nb info\nc WARN 2\nd WARN 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	warn := func(l string) bool { return strings.Contains(l, "WARN") }
	if got := MatchingLines(path, warn, 2); got != "c WARN 2\nd WARN 3" {
		t.Errorf("last 2 WARN lines: %q", got)
	}
	if got := MatchingLines(path, warn, 10); got != "a WARN 1\nc WARN 2\nd WARN 3" {
		t.Errorf("all WARN lines: %q", got)
	}
	if got := MatchingLines(filepath.Join(t.TempDir(), "none"), warn, 10); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
