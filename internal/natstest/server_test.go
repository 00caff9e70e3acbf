package natstest

import (
	"testing"
)

// TestStartKillRestart checks that the server serves clients after start
// and restart, and not after Kill.
func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	if ready(s.Port) != nil {
		t.Fatal("server does not greet after Start")
	}
	pid := s.PID()
	s.Kill()
	if ready(s.Port) == nil {
		t.Fatal("server still greets after Kill")
	}
	s.Restart()
	if ready(s.Port) != nil {
		t.Fatal("server does not greet after Restart")
	}
	if s.PID() == pid || s.PID() == 0 {
		t.Fatalf("restart kept pid %d (now %d)", pid, s.PID())
	}
}
