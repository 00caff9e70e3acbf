package sip

import (
	"fmt"
	"testing"
	"time"
)

// The UDP reader takes only the ACK of our 2xx itself: the ACK of a
// non-2xx answer (here a busy callee's 486) still reaches sipgo's INVITE
// server transaction, which then ends at Timer I (T4, 5 s) instead of
// retransmitting the 486 until Timer H (32 s, beyond waitTxEnd's 15 s).
func TestReaderLeavesNon2xxAckToTransaction(t *testing.T) {
	ends := watchTxEnds(t)
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID := fmt.Sprintf("take-busy-%d@127.0.0.1", time.Now().UnixNano())
	c.send(t, c.rawRequest("INVITE", "sip:busy@"+env.a.Addr(), []string{"Content-Type: application/sdp",
		"!Call-ID: " + callID}, webrtcSDP("actpass", "rawc", 30000)))
	res := c.final(10 * time.Second) // ACKs the 486
	if res == nil || res.StatusCode != 486 {
		t.Fatalf("INVITE: got %v, want 486", res)
	}
	waitTxEnd(t, ends, "1 INVITE "+callID)
}

// The ACK of our 2xx, taken by the reader, confirms the call: the leg
// stops retransmitting its 200 and the INVITE handler returns.
func TestReaderTakesAckOf2xx(t *testing.T) {
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID, _, ok := c.answeredCall(t, env, "take-ack", "ta1")
	c.send(t, fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKtakeack\r\nFrom: %s\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		ok.Contact().Address.String(), c.local(), ok.From().Value(), ok.To().Value(), callID))
	waitNoLegGoroutine(t, env)
}
