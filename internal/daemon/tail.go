package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TailFile returns at most the last n bytes of the file at path ("" if it
// cannot be read).
func TailFile(path string, n int) string {
	data, _ := os.ReadFile(path)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// Tail returns the end (n bytes) of each file, each under a line
// "--- name ---", for a failure message.
func Tail(n int, paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", filepath.Base(p), TailFile(p, n))
	}
	return b.String()
}

// MatchingLines returns the last n lines of the file at path that keep
// accepts, for a failure message ("" if it cannot be read).
func MatchingLines(path string, keep func(line string) bool, n int) string {
	data, _ := os.ReadFile(path)
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if keep(l) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
