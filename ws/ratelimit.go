package ws

import "time"

// bucket is a token bucket: it holds at most burst tokens, refills at rate
// tokens per second, and each message takes one. It is owned by one
// connection's read goroutine and has no lock.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// The rename budget: a client may change its name 3 times at once, then
// once every 10 s. Every rename makes the gateway tell every connection.
const (
	renameBurst = 3
	renameEvery = 10 * time.Second
)

func newRenameBudget(now time.Time) *bucket {
	return newBucket(1/renameEvery.Seconds(), renameBurst, now)
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// allow takes one token if there is one.
func (b *bucket) allow(now time.Time) bool {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
