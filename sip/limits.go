package sip

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sigbridge/sigbridge/gateway"
)

// errRateLimited is a call refused by the per-user call rate; it maps to
// 503 like gateway.ErrTooManyCalls.
var errRateLimited = errors.New("call rate exceeded")

// maxLimiterKeys bounds the per-user state kept for idle users.
const maxLimiterKeys = 4096

// limiter caps concurrent calls and the call rate per user (a caller's
// address). Safe for concurrent use.
type limiter struct {
	max   int
	every rate.Limit
	burst int

	mu    sync.Mutex
	users map[string]*userLimit
}

type userLimit struct {
	active int
	bucket *rate.Limiter
	seen   time.Time
}

func newLimiter(max int, perSecond float64, burst int) *limiter {
	return &limiter{max: max, every: rate.Limit(perSecond), burst: burst, users: map[string]*userLimit{}}
}

// acquire admits one call for user and returns the function that releases
// it. Errors wrap gateway.ErrTooManyCalls (both limits answer 503).
func (l *limiter) acquire(user string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.user(user)
	if u.active >= l.max {
		return nil, fmt.Errorf("%w: %s has %d calls", gateway.ErrTooManyCalls, user, u.active)
	}
	if !u.bucket.Allow() {
		return nil, fmt.Errorf("%w: %w for %s", gateway.ErrTooManyCalls, errRateLimited, user)
	}
	u.active++
	var once sync.Once
	return func() { once.Do(func() { l.release(user) }) }, nil
}

func (l *limiter) user(name string) *userLimit {
	now := time.Now()
	u, ok := l.users[name]
	if !ok {
		if len(l.users) >= maxLimiterKeys {
			l.sweep(now)
		}
		u = &userLimit{bucket: rate.NewLimiter(l.every, l.burst)}
		l.users[name] = u
	}
	u.seen = now
	return u
}

// sweep forgets idle users, those whose bucket has refilled first; when
// that is not enough (a flood of distinct callers) any idle user goes.
func (l *limiter) sweep(now time.Time) {
	for k, u := range l.users {
		if u.active == 0 && u.bucket.TokensAt(now) >= float64(l.burst) {
			delete(l.users, k)
		}
	}
	for k, u := range l.users {
		if len(l.users) < maxLimiterKeys/2 {
			return
		}
		if u.active == 0 {
			delete(l.users, k)
		}
	}
}

func (l *limiter) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u, ok := l.users[user]; ok && u.active > 0 {
		u.active--
	}
}
