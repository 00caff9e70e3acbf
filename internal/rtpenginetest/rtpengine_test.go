package rtpenginetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/daemon"
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

// TestSpawnMediaBelowEphemeral: Spawn (the starter the interop harness
// uses) picks media ports below Linux's ephemeral range, so the relay
// never takes a port another starter found free with ":0"; a binary that
// is not rtpengine is an error, not a hang.
func TestSpawnMediaBelowEphemeral(t *testing.T) {
	r, err := Spawn(context.Background(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if lo, hi := ephemeralRange(t); r.PortMin < 1024 || r.PortMax >= lo || r.PortMax-r.PortMin+1 != mediaPorts {
		t.Fatalf("media ports %d-%d, want %d ports below the ephemeral range %d-%d", r.PortMin, r.PortMax, mediaPorts, lo, hi)
	}
	if band, _ := daemon.PickBand(); r.PortMax >= band {
		t.Fatalf("media ports %d-%d reach into the band of daemon's free ports (from %d)", r.PortMin, r.PortMax, band)
	}
	if err := Ping(r.NG, time.Second); err != nil {
		t.Fatalf("ping: %v\n%s", err, r.LogTail())
	}
	if _, err := Spawn(context.Background(), Options{Bin: "/bin/false", Dir: t.TempDir()}); err == nil {
		t.Fatal("Spawn of /bin/false succeeded")
	}
}

func ephemeralRange(t *testing.T) (int, int) {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(data), &lo, &hi); err != nil {
		t.Fatal(err)
	}
	return lo, hi
}
