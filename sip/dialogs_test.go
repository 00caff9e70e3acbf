package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestDialogsEndedByPeerRemembered: a dialog the peer's BYE ended is
// remembered, so that BYE's retransmission finds it (noDialog answers 200);
// a dialog we ended is not (a BYE that crossed ours gets 481).
func TestDialogsEndedByPeerRemembered(t *testing.T) {
	bye := func(callID string) *sip.Request {
		msg, err := sip.ParseMessage([]byte("BYE sip:gw@127.0.0.1 SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-" + callID + "\r\n" +
			"From: <sip:a@127.0.0.1>;tag=theirs\r\nTo: <sip:b@127.0.0.1>;tag=ours\r\n" +
			"Call-ID: " + callID + "\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return msg.(*sip.Request)
	}
	tab := newDialogTable()
	for _, c := range []struct {
		callID string
		byeIn  bool
	}{{"by-peer", true}, {"by-us", false}} {
		req := bye(c.callID)
		key, ok := requestKey(req)
		if !ok {
			t.Fatal("no dialog key")
		}
		tab.add(key, nil)
		if tab.endedLately(req) {
			t.Fatalf("%s: ended before it was removed", c.callID)
		}
		tab.remove(key, c.byeIn)
		if got := tab.endedLately(req); got != c.byeIn {
			t.Errorf("%s: remembered as ended lately = %v, want %v", c.callID, got, c.byeIn)
		}
	}
}
