package kamailiotest

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestDispatcherConfigDocumented: sip/README.md shows the dispatcher
// configuration the tests run, unchanged.
func TestDispatcherConfigDocumented(t *testing.T) {
	b, err := os.ReadFile("../../sip/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```\n"+DispatcherConfig+"```\n") {
		t.Error("sip/README.md does not show internal/kamailiotest/dispatcher.cfg as it is: copy it again")
	}
}

// TestStartDispatcher: the dispatcher config starts and answers OPTIONS
// itself.
func TestStartDispatcher(t *testing.T) {
	k := Start(t, Options{Config: DispatcherConfig, Nodes: []string{"127.0.0.1:9"},
		Defines: []string{"FR_TIMER=500"}})
	if code, err := Options200(k.Addr, 2*time.Second); err != nil || code != 200 {
		t.Fatalf("OPTIONS: %d %v", code, err)
	}
}
