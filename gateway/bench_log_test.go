package gateway

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkEndRecord writes an answered browser → SIP call's end record
// with a text handler, as sigbridge serve does.
func BenchmarkEndRecord(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := New(Config{}, NewRouter(), log, nil)
	tg, err := ParseTarget("sip:bob@pbx.example.org")
	if err != nil {
		b.Fatal(err)
	}
	leg := &benchLeg{caps: browserCaps}
	c := newCall(gw, "alice", tg, leg)
	c.legs[callee] = leg
	c.st.outcome, c.st.answered, c.st.answeredAt = "answered", true, c.start.Add(time.Second)
	b.ReportAllocs()
	for b.Loop() {
		c.logEnd()
	}
}
