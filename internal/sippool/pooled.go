package sippool

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
)

// Bound is how long WaitPooled waits at most when ctx has no earlier
// deadline.
const Bound = 10 * time.Second

// WaitPooled polls ua's transport layer every millisecond until it has a
// UDP connection for addr (the local address a server of ua serves), ctx
// ends, or Bound passes.
func WaitPooled(ctx context.Context, ua *sipgo.UserAgent, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, Bound)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sippool: the socket at %s never reached sipgo's pool: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}
