package sip

import (
	"context"
	"fmt"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// closeWait bounds Close: the hang-ups of legs still up, then the
// listeners' goroutines.
const closeWait = 5 * time.Second

// A leg lives from its creation until finish: its goroutine has sent the
// BYE and seen its answer, or the final answer to the INVITE, or the CANCEL
// and its 487. Shutdown waits for every live leg before it closes the
// transports. (Before, Close closed the listeners as soon as the gateway's
// calls were done, while legs were still sending their BYEs, and never
// waited for inbound legs at all: they run on sipgo's handler goroutines.
// About one drain in ten lost a BYE.)

func (a *Adapter) addLeg(l *legCore) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	a.live[l] = struct{}{}
}

func (a *Adapter) removeLeg(l *legCore) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	delete(a.live, l)
}

func (a *Adapter) liveLegs() []*legCore {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	out := make([]*legCore, 0, len(a.live))
	for l := range a.live {
		out = append(out, l)
	}
	return out
}

// LiveDialogs is the number of SIP legs not yet finished (ringing,
// answered, or ending).
func (a *Adapter) LiveDialogs() int {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	return len(a.live)
}

// Shutdown stops the adapter gracefully. New INVITEs get 503 and Dial
// fails with gateway.ErrDraining; every live leg, in any state, is hung
// up with gateway.ReasonShutdown (a BYE for answered dialogs, including
// those whose ACK is still on its way; 503 for inbound INVITEs not yet
// answered; CANCEL for outbound ones); then Shutdown waits until each
// leg's transaction is over or ctx ends, unregisters the accounts and
// closes the transports. Run gateway.Drain first to let calls end on
// their own.
func (a *Adapter) Shutdown(ctx context.Context) error {
	a.stopping.Store(true)
	for _, l := range a.liveLegs() {
		_ = l.self.Deliver(gateway.Hangup{Reason: gateway.ReasonShutdown})
	}
	left := a.waitLegs(ctx)
	if left > 0 {
		a.log.Warn("sip shutdown deadline reached with legs still ending", "legs", left)
	}
	err := a.stop()
	if left > 0 {
		return fmt.Errorf("sip: %d dialogs still ending at shutdown: %w", left, ctx.Err())
	}
	return err
}

// waitLegs waits until no leg is live or ctx ends; it returns how many are
// left.
func (a *Adapter) waitLegs(ctx context.Context) int {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n := a.LiveDialogs()
		if n == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// Close is Shutdown bounded by a few seconds.
func (a *Adapter) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	return a.Shutdown(ctx)
}

// stop unregisters the accounts, stops the listeners and the legs still
// running (they see their context end), ends our client transactions
// and closes the user agent.
func (a *Adapter) stop() error {
	a.cancel()
	waitGroup(&a.regs, 3*time.Second) // they unregister through the listeners
	a.mu.Lock()
	a.closeListeners()
	a.mu.Unlock()
	waitGroup(&a.wg, closeWait)
	if a.anchors != nil {
		a.anchors.rtp.Close()
	}
	a.serverTxs.terminateAll()
	a.clientTxs.terminateAll() // before their connections close, as sipgo's transaction layer does
	return a.ua.Close()
}
