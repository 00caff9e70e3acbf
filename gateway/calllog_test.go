package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOneInfoRecordPerCall: an answered call logs one INFO record, at its
// end, with the outcome, the leg kinds, the setup time and the duration.
func TestOneInfoRecordPerCall(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r := NewRouter()
	callee := newTestLeg("callee", browserCaps)
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(Config{}, r, log, nil)
	caller := newTestLeg("caller", browserCaps)
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_audio_only.sdp")})
	if err != nil {
		t.Fatal(err)
	}
	nextAs[Offer](t, callee)
	if err := call.Post(callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); err != nil {
		t.Fatal(err)
	}
	nextAs[Answer](t, caller)
	if err := call.Post(caller, Hangup{}); err != nil {
		t.Fatal(err)
	}
	<-call.Done()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d INFO records for one call, want 1:\n%s", len(lines), logs.String())
	}
	for _, want := range []string{`msg="call ended"`, "outcome=answered", "caller=caller", "callee=callee",
		"from=alice", "to=bob", "setup=", "duration="} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("record lacks %s: %s", want, lines[0])
		}
	}
}
