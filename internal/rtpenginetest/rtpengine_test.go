package rtpenginetest

import (
	"testing"
	"time"
)

func TestStartPingStop(t *testing.T) {
	r := Start(t)
	if err := Ping(r.NG, time.Second); err != nil {
		t.Fatalf("ping after start: %v\n%s", err, r.LogTail())
	}
	r.Stop()
	if err := Ping(r.NG, 300*time.Millisecond); err == nil {
		t.Fatal("ping answered after Stop")
	}
	r.Restart(t)
	if err := Ping(r.NG, time.Second); err != nil {
		t.Fatalf("ping after restart: %v\n%s", err, r.LogTail())
	}
	r.Kill()
	if err := Ping(r.NG, 300*time.Millisecond); err == nil {
		t.Fatal("ping answered after Kill")
	}
}
