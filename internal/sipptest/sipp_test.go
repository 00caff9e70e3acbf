package sipptest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func scenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUACToUAS: a SIPp UAS is listening when StartT returns (over UDP and
// over TCP), a SIPp UAC's OPTIONS reaches it, and both exit 0.
func TestUACToUAS(t *testing.T) {
	for _, tr := range []string{"u1", "t1"} {
		t.Run(tr, func(t *testing.T) {
			uas := StartT(t, Options{Scenario: scenario(t, "uas_options.xml"), Dir: t.TempDir(), Host: "127.0.0.1",
				Transport: tr, Timeout: 20 * time.Second, TraceMessages: true})
			uac := StartT(t, Options{Scenario: scenario(t, "uac_options.xml"), Dir: t.TempDir(), Host: "127.0.0.1",
				Remote: uas.Addr, Transport: tr, Timeout: 20 * time.Second, TraceMessages: true})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for name, s := range map[string]*SIPp{"uac": uac, "uas": uas} {
				if err := s.Wait(ctx); err != nil {
					t.Fatalf("%s: %v\n%s", name, err, s.Logs())
				}
			}
			msgs, err := uas.MessageLog()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(msgs, "OPTIONS sip:") {
				t.Errorf("the UAS's trace holds no OPTIONS:\n%s", msgs)
			}
		})
	}
}

// TestUACFails: a UAC whose OPTIONS nobody answers exits with an error
// once its -timeout passes (-timeout_error), and Stop on an exited SIPp is
// harmless.
func TestUACFails(t *testing.T) {
	uac := StartT(t, Options{Scenario: scenario(t, "uac_options.xml"), Dir: t.TempDir(), Host: "127.0.0.1",
		Remote: "127.0.0.1:9", Timeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := uac.Wait(ctx); err == nil {
		t.Fatal("an unanswered UAC exited 0")
	}
	uac.Stop()
	if _, err := Start(context.Background(), Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("Start without a scenario succeeded")
	}
}
