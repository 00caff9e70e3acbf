package interop

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
)

// rtpengineServer is the rtpengine media relay the harness starts for a
// local deployment. It is internal/rtpenginetest's Spawn (the one starter
// of the repository: userspace forwarding, no config file, ng on a free
// UDP port of 127.0.0.1, media ports below the ephemeral range), so the
// harness and the package tests run rtpengine the same way.
type rtpengineServer struct {
	NG string // 127.0.0.1:port (UDP)
	r  *rtpenginetest.Rtpengine
}

// startRtpengine runs bin in dir/rtpengine and returns once it answers an
// ng ping.
func startRtpengine(ctx context.Context, bin, dir string, log *slog.Logger) (*rtpengineServer, error) {
	r, err := rtpenginetest.Spawn(ctx, rtpenginetest.Options{Bin: bin, Dir: filepath.Join(dir, "rtpengine")})
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	log.Info("rtpengine up", "ng", r.NG, "media_ports", fmt.Sprintf("%d-%d", r.PortMin, r.PortMax), "log", r.LogPath())
	return &rtpengineServer{NG: r.NG, r: r}, nil
}

// Close stops rtpengine's process group (SIGTERM, then SIGKILL after 3 s).
// A nil server is fine.
func (r *rtpengineServer) Close() {
	if r == nil {
		return
	}
	r.r.Stop()
}
