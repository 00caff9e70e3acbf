package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// Bad flags are refused with status 2 and a reason, before any connection.
func TestLoadFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no ws":         {[]string{"load", "--target", "x"}, "--ws"},
		"no target":     {[]string{"load", "--ws", "ws://127.0.0.1:1/ws"}, "--target"},
		"two verbs":     {[]string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "a%d%d"}, "at most one"},
		"answer to sip": {[]string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "sip:a@b", "--answer"}, "--answer"},
		"extra arg":     {[]string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "x", "oops"}, "unexpected"},
		"negative heap floor": {[]string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "x", "--gc-min-heap", "-1"},
			"--gc-min-heap"},
		"huge heap not in 2 MiB pages": {[]string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "x", "--huge-heap", "1000"},
			"--huge-heap"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, nil, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%s: stderr %q lacks %q", name, errOut.String(), tc.want)
		}
	}
}

// A gateway that is not there: the run fails (status 1) with the reason.
// The tool logs its collector settings first: no heap floor by default,
// the floor asked for with --gc-min-heap (and no heap readied for huge
// pages with --huge-heap 0).
func TestLoadNoGateway(t *testing.T) {
	floor := "gc_min_heap=67108864"
	if _, ok := os.LookupEnv("GOGC"); ok {
		floor = "gc_min_heap=" // GOGC=off turns the floor off; the line is there all the same
	}
	for _, tc := range []struct {
		extra []string
		want  string
	}{{nil, "gc_min_heap=none"}, {[]string{"--gc-min-heap", "67108864"}, floor}, {[]string{"--huge-heap", "0"}, "huge_heap=none"}} {
		var out, errOut bytes.Buffer
		args := append([]string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "x", "--users", "1"}, tc.extra...)
		code := run(context.Background(), args, nil, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "load-0") {
			t.Errorf("%v: exit %d, stderr %q: want 1 and the user that could not connect", tc.extra, code, errOut.String())
		}
		if !strings.Contains(errOut.String(), `msg="go runtime"`) || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks the go runtime line with %s", tc.extra, errOut.String(), tc.want)
		}
	}
}
