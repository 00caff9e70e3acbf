package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// sendMedia and hangUp put on the wire exactly the messages the tool
// always sent (built here the old way, with fmt and json.Marshal).
func TestSendMediaWire(t *testing.T) {
	got := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			got <- string(b)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, Options{WS: "ws" + strings.TrimPrefix(srv.URL, "http")}, "caller-1", "")
	if err != nil {
		t.Fatal(err)
	}
	go c.readLoop()
	defer c.close()
	offer, answer, err := offerAnswer("audio")
	if err != nil {
		t.Fatal(err)
	}
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, tc := range []struct {
		typ, kind, id, target string
		m                     media
	}{{"video-offer", "offer", "c7", "sip:uas@127.0.0.1:5080", offer}, {"video-answer", "answer", "c8", "caller-<1>", answer}} {
		if _, err := c.sendMedia(tc.typ, tc.id, tc.target, tc.m); err != nil {
			t.Fatal(err)
		}
		want := []string{fmt.Sprintf(`{"type":"%s","target":%s,"callId":%s,"sdp":{"type":"%s","sdp":%s}}`, tc.typ, j(tc.target), j(tc.id), tc.kind, tc.m.sdp)}
		for _, cand := range tc.m.cands {
			want = append(want, fmt.Sprintf(`{"type":"new-ice-candidate","target":%s,"callId":%s,"candidate":%s}`, j(tc.target), j(tc.id), cand))
		}
		want = append(want, fmt.Sprintf(`{"type":"end-of-candidates","target":%s,"callId":%s}`, j(tc.target), j(tc.id)))
		for i, w := range want {
			if g := <-got; g != w {
				t.Errorf("%s message %d:\n got %s\nwant %s", tc.typ, i, g, w)
			}
		}
	}
	if err := c.hangUp("c7"); err != nil {
		t.Fatal(err)
	}
	if g, w := <-got, `{"type":"hang-up","callId":"c7"}`; g != w {
		t.Errorf("hang-up: got %s, want %s", g, w)
	}
}
