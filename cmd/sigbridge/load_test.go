package main

import (
	"bytes"
	"context"
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
func TestLoadNoGateway(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"load", "--ws", "ws://127.0.0.1:1/ws", "--target", "x", "--users", "1"},
		nil, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "load-0") {
		t.Errorf("exit %d, stderr %q: want 1 and the user that could not connect", code, errOut.String())
	}
}
