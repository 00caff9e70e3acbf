package interop

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Media thresholds: what each end must count from the other before a call
// counts as carrying media.
const (
	minRTPPackets   = 5
	minDataMessages = 3
	mediaPoll       = 50 * time.Millisecond
	// mediaTimeout bounds the wait for media after the answer (or a
	// resume), inside the scenario's deadline.
	mediaTimeout = 15 * time.Second
)

// reports returns the media counts of both ends (caller first).
func (x *execution) reports(ctx context.Context) ([2]MediaReport, error) {
	var out [2]MediaReport
	for i, a := range []Agent{x.caller, x.callee} {
		if a.Media() == nil {
			return out, failf("the %s has no media end", []string{"caller", "callee"}[i])
		}
		r, err := a.Media().Report(ctx)
		if err != nil {
			return out, &failure{reason: "reading the media counts", err: err}
		}
		out[i] = r
	}
	return out, nil
}

// waitMedia waits until both ends reached ICE connected and counted, since
// the baseline (nil: since the start), packets of every kind of the
// scenario's media from each other.
func (x *execution) waitMedia(ctx context.Context, base *[2]MediaReport) error {
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	tick := time.NewTicker(mediaPoll)
	defer tick.Stop()
	for {
		now, err := x.reports(ctx)
		if err != nil {
			return err
		}
		if short := x.shortfall(now, base); short == "" {
			return nil
		} else if ctx.Err() != nil || x.anyEnded() {
			return x.mediaFailure(now, short)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// anyEnded reports whether the gateway already ended the call.
func (x *execution) anyEnded() bool {
	for _, a := range []Agent{x.caller, x.callee} {
		if _, ok := a.Events().Find(0, EvEnded); ok {
			return true
		}
	}
	return false
}

// shortfall describes what is still missing ("" when media flows).
func (x *execution) shortfall(now [2]MediaReport, base *[2]MediaReport) string {
	audio, video, data := x.s.Media.Kinds()
	var miss []string
	for i, who := range []string{"caller", "callee"} {
		var b MediaReport
		if base != nil {
			b = base[i]
		}
		n := now[i]
		if audio && n.Audio-b.Audio < minRTPPackets {
			miss = append(miss, fmt.Sprintf("%s got %d audio packets", who, n.Audio-b.Audio))
		}
		if video && n.Video-b.Video < minRTPPackets {
			miss = append(miss, fmt.Sprintf("%s got %d video packets", who, n.Video-b.Video))
		}
		if data && n.Data-b.Data < minDataMessages {
			miss = append(miss, fmt.Sprintf("%s got %d data messages", who, n.Data-b.Data))
		}
	}
	if !now[0].Connected || !now[1].Connected {
		return "ice"
	}
	return strings.Join(miss, ", ")
}

// mediaFailure names the first thing that failed: ICE, then packets.
func (x *execution) mediaFailure(now [2]MediaReport, short string) error {
	if short == "ice" {
		return failf("no ICE connectivity (caller ICE %s, callee ICE %s)", now[0].ICE, now[1].ICE)
	}
	return failf("no media from the other end: %s", short)
}
