package sip

import (
	"errors"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestLimiterConcurrency(t *testing.T) {
	l := newLimiter(2, 1000, 1000)
	r1, err1 := l.acquire("u")
	_, err2 := l.acquire("u")
	_, err3 := l.acquire("u")
	if err1 != nil || err2 != nil || !errors.Is(err3, gateway.ErrTooManyCalls) {
		t.Fatalf("errs %v %v %v", err1, err2, err3)
	}
	if _, err := l.acquire("other"); err != nil {
		t.Fatalf("other user limited: %v", err)
	}
	r1()
	r1() // idempotent
	if _, err := l.acquire("u"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestLimiterRate(t *testing.T) {
	l := newLimiter(100, 0.001, 3)
	for i := 0; i < 3; i++ {
		rel, err := l.acquire("u")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		rel()
	}
	_, err := l.acquire("u")
	if !errors.Is(err, gateway.ErrTooManyCalls) || !errors.Is(err, errRateLimited) {
		t.Fatalf("4th call: %v", err)
	}
}

func TestLimiterBoundedKeys(t *testing.T) {
	l := newLimiter(1, 1e6, 1)
	for i := 0; i < 3*maxLimiterKeys; i++ {
		rel, err := l.acquire(string(rune('a'+i%26)) + string(rune(i)))
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
	if n := len(l.users); n > maxLimiterKeys+1 {
		t.Errorf("%d users kept", n)
	}
}
