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
	endedCall(t, log.Handler(), SchemeUser, "bob")
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

// recordHandler keeps the records it is given.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *recordHandler) WithGroup(string) slog.Handler                { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// endedCall places a call from a browser leg to target (a leg of scheme's
// dialer) on a gateway logging to h, answers it and hangs it up.
func endedCall(t *testing.T, h slog.Handler, scheme, target string) {
	t.Helper()
	r := NewRouter()
	callee := newTestLeg("callee", browserCaps)
	r.Handle(scheme, fixedDialer(callee))
	gw := New(Config{}, r, slog.New(h), nil)
	caller := newTestLeg("caller", browserCaps)
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice",
		Target: target, Offer: loadSDP(t, "chrome156_offer_audio_only.sdp")})
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
}

// TestEndRecordWithoutPC: the end record is built without the caller's PC
// (runtime.Callers, which Logger.LogAttrs calls for every record).
func TestEndRecordWithoutPC(t *testing.T) {
	var h recordHandler
	endedCall(t, &h, SchemeSIP, "sip:bob@pbx.example.org")
	if len(h.records) != 1 {
		t.Fatalf("%d records, want 1", len(h.records))
	}
	r := h.records[0]
	if r.PC != 0 {
		t.Errorf("end record has PC %#x, want 0", r.PC)
	}
	if r.Level != slog.LevelInfo || r.Message != "call ended" || r.Time.IsZero() {
		t.Errorf("end record: level %v, message %q, time %v", r.Level, r.Message, r.Time)
	}
}

// TestEndRecordText: the end record's text line, field for field, as
// Logger.LogAttrs wrote it (the time and the durations replaced).
func TestEndRecordText(t *testing.T) {
	var logs lockedBuffer
	var id string
	h := slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey:
			return slog.String(a.Key, "T")
		case "duration", "setup":
			return slog.String(a.Key, "D")
		case "call":
			id = a.Value.String()
			return slog.String(a.Key, "ID")
		}
		return a
	}})
	endedCall(t, h, SchemeSIP, "sip:bob@pbx.example.org")
	want := `time=T level=INFO msg="call ended" call=ID from=alice to=sip:bob@pbx.example.org outcome=answered` +
		` caller=caller callee=callee duration=D setup=D` + "\n"
	if got := logs.String(); got != want {
		t.Errorf("end record:\n got %q\nwant %q", got, want)
	}
	if len(id) != 16 {
		t.Errorf("call id %q", id)
	}
}
