package gateway

import "time"

// Config holds the gateway's call timers and limits. Zero fields take the
// defaults of DefaultConfig.
type Config struct {
	// RingTimeout ends a call that is not answered in time (408 timeout).
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// OfferTimeout withdraws a re-offer the other leg does not answer in
	// time: the offerer gets a Failure 408 and the call goes on.
	OfferTimeout time.Duration `yaml:"offer_timeout"`
	// GatherQuiet is how long the bridge waits after the last trickled
	// candidate before it sends a held SDP to a leg that does not trickle.
	GatherQuiet time.Duration `yaml:"gather_quiet"`
	// GatherMax caps the wait for candidates after the SDP arrived.
	GatherMax time.Duration `yaml:"gather_max"`
	// MaxCallsPerUser caps the concurrent calls one caller may place.
	MaxCallsPerUser int `yaml:"max_calls_per_user"`
	// MaxTrickled caps the candidates one leg may trickle in a call.
	MaxTrickled int `yaml:"max_trickled"`
	// InboxSize is the per-call event queue length.
	InboxSize int `yaml:"inbox_size"`
	// MaxCallsInSetup bounds the calls placed whose callee has neither
	// rung nor answered and that have not ended; beyond it new calls are
	// shed (ErrOverloaded, 503). Negative: no bound.
	MaxCallsInSetup int `yaml:"max_calls_in_setup"`
	// MaxQueueDelay sheds new calls while the 0.9 quantile of the time
	// runnable goroutines waited for a CPU, over the last 100 ms or more,
	// exceeds it. Negative: off.
	MaxQueueDelay time.Duration `yaml:"max_queue_delay"`
	// ShedRetryAfter is the Retry-After of the SIP 503s of shed calls.
	ShedRetryAfter time.Duration `yaml:"shed_retry_after"`
}

// DefaultConfig returns the defaults: ring 60 s, re-offer 32 s, gather
// 500 ms quiet / 3 s max, 4 calls per user, 200 trickled candidates per leg,
// overload shedding beyond 1,000 calls in setup or a 250 ms queue delay
// (Retry-After 5 s).
//
// The quiet period decides when a trickling caller's SDP leaves toward SIP
// (browsers of MDN's dialect and Jingle clients never signal the end of
// gathering): host candidates come within milliseconds, srflx and relay
// ones one or two STUN/TURN round trips later, and the timer restarts with
// every candidate. 500 ms, like the total gathering timeout of JsSIP-style
// web phones, keeps those while taking half a second off every such call;
// a candidate later than that is dropped toward SIP (a public SIP peer
// still connects through the peer-reflexive pair).
// The overload bounds suit a 2-core box: it sets up 500-1,000 calls/s, so
// 1,000 calls in setup means setups already take a second or more (SIP
// UACs retransmit after 500 ms, doubling the load); a goroutine that waits
// 250 ms for a CPU (0.9 quantile) is half a SIP retransmission interval
// late. Both shed before the retransmissions and timeouts pile up.
func DefaultConfig() Config {
	return Config{RingTimeout: 60 * time.Second, OfferTimeout: 32 * time.Second, GatherQuiet: 500 * time.Millisecond, GatherMax: 3 * time.Second,
		MaxCallsPerUser: 4, MaxTrickled: 200, InboxSize: 256,
		MaxCallsInSetup: 1000, MaxQueueDelay: 250 * time.Millisecond, ShedRetryAfter: 5 * time.Second}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RingTimeout <= 0 {
		c.RingTimeout = d.RingTimeout
	}
	if c.OfferTimeout <= 0 {
		c.OfferTimeout = d.OfferTimeout
	}
	if c.GatherQuiet <= 0 {
		c.GatherQuiet = d.GatherQuiet
	}
	if c.GatherMax <= 0 {
		c.GatherMax = d.GatherMax
	}
	if c.MaxCallsPerUser <= 0 {
		c.MaxCallsPerUser = d.MaxCallsPerUser
	}
	if c.MaxTrickled <= 0 {
		c.MaxTrickled = d.MaxTrickled
	}
	if c.InboxSize <= 0 {
		c.InboxSize = d.InboxSize
	}
	return c.overloadDefaults(d)
}

// overloadDefaults: zero takes the default, a negative bound is off.
func (c Config) overloadDefaults(d Config) Config {
	if c.MaxCallsInSetup == 0 {
		c.MaxCallsInSetup = d.MaxCallsInSetup
	}
	if c.MaxQueueDelay == 0 {
		c.MaxQueueDelay = d.MaxQueueDelay
	}
	if c.ShedRetryAfter <= 0 {
		c.ShedRetryAfter = d.ShedRetryAfter
	}
	return c
}
