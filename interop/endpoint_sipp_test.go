package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSIPpTrace reads SIPp's message trace (both header forms) and its
// log of milestones.
func TestSIPpTrace(t *testing.T) {
	dir := t.TempDir()
	invite := "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	busy := "SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	trace := "----------------------------------------------- 2026-11-21 14:56:02.771375\n" +
		"UDP message sent (" + itoa(len(invite)) + " bytes):\n\n" + invite + "\n" +
		"----------------------------------------------- 2026-11-21 14:56:02.871375\n" +
		"UDP message received [" + itoa(len(busy)) + "] bytes :\n\n" + busy
	if err := os.WriteFile(filepath.Join(dir, "messages.log"), []byte(trace), 0o600); err != nil {
		t.Fatal(err)
	}
	log := "event ringing 180\nevent cancelling\nevent ended 486\nevent ended"
	if err := os.WriteFile(filepath.Join(dir, "events.log"), []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := NewTranscript(mustTime(t, "2026-11-21 14:56:02.7"), 20)
	a := &sippAgent{dir: dir, ev: NewEventLog(), marks: NewEventLog(), tr: tr, party: "caller"}
	msgs, events := fileTail{path: a.path("messages.log")}, fileTail{path: a.path("events.log")}
	a.readMessages(&msgs)
	a.readEvents(&events)
	lines := tr.Lines()
	if len(lines) != 2 || lines[0].Dir != "sent" || !strings.Contains(lines[0].Text, "INVITE sip:bob") ||
		lines[1].Dir != "recv" || !strings.Contains(lines[1].Text, "486 Busy Here") {
		t.Fatalf("transcript %+v", lines)
	}
	if lines[1].At <= lines[0].At {
		t.Errorf("times %v, %v: SIPp's own time stamps not used", lines[0].At, lines[1].At)
	}
	if _, ok := a.marks.Find(0, "sent-invite"); !ok {
		t.Error("the sent INVITE was not noted")
	}
	evs := a.ev.All()
	if len(evs) != 2 || evs[0].Kind != EvRinging || evs[1].Kind != EvEnded || evs[1].Reason != "busy" || evs[1].Code != 486 {
		t.Errorf("events %v (the incomplete last line must wait)", evs)
	}
	if _, ok := a.marks.Find(0, "cancelling"); !ok {
		t.Error("the cancelling mark is missing")
	}
}

func TestSIPpScenarioFiles(t *testing.T) {
	for _, c := range []struct {
		r role
		o Outcome
	}{{roleCaller, Busy}, {roleCaller, Cancelled}, {roleCaller, Unknown}, {roleCallee, Busy}, {roleCallee, Declined},
		{roleCallee, NoAnswer}} {
		f, err := sippScenarioFor(c.r, c.o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sippFiles.ReadFile("testdata/sipp/" + f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := sippScenarioFor(roleCallee, Answered); err == nil {
		t.Error("SIPp must refuse to answer")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
