package sip

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
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
// stops retransmitting its 200 and the INVITE handler returns. So does
// one that carries the INVITE's branch (against RFC 3261 §17.1.1.3),
// which sipgo would have handed to the INVITE's server transaction, not
// to the leg. The caller's BYE then ends the call.
func TestReaderTakesAckOf2xx(t *testing.T) {
	for _, sameBranch := range []bool{false, true} {
		env := trustedEnv(t)
		c := dialRaw(t, env.a.Addr())
		callID, callee, ok := c.answeredCall(t, env, "take-ack", "ta1")
		via := "SIP/2.0/UDP " + c.local() + ";branch=z9hG4bKtakeack"
		if sameBranch {
			via = ok.Via().Value()
		}
		inDialog := func(method string, cseq int, via string) string {
			return fmt.Sprintf("%s %s SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\n"+
				"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
				method, ok.Contact().Address.String(), via, ok.From().Value(), ok.To().Value(), callID, cseq, method)
		}
		c.send(t, inDialog("ACK", 1, via))
		waitNoLegGoroutine(t, env)
		c.send(t, inDialog("BYE", 2, "SIP/2.0/UDP "+c.local()+";branch=z9hG4bKtakebye"))
		for {
			m := c.read(10 * time.Second)
			if m == nil {
				t.Fatal("no 200 to the BYE")
			}
			if isResponse(m, sip.BYE, 200) {
				break
			}
		}
		waitDone(t, callee.call)
	}
}
