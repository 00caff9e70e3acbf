package ws

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestDemoPage(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	resp, err := http.Get(h.hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Get(h.hs.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("GET /ws without upgrade = %d", resp.StatusCode)
	}
	resp, err = http.Post(h.hs.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST / = %d", resp.StatusCode)
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{RateBurst: 5}.withDefaults()
	d := DefaultConfig()
	if got.RateBurst != 5 || got.MaxMessageBytes != d.MaxMessageBytes || got.PingInterval != d.PingInterval ||
		got.SendQueue != 256 || got.TokenAlgorithms[0] != "HS256" || got.HandshakeTimeout != d.HandshakeTimeout {
		t.Fatalf("defaults %+v", got)
	}
}
