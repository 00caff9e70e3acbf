package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// timerM is how long sipgo keeps an INVITE client transaction after it has
// passed a 2xx up (Timer M, RFC 6026 §7.1: 64*T1, 32 s, by default). Over
// UDP our own client transactions (clienttx.go) read it too, but their
// Terminate stops their timer; sipgo's, which carry our INVITEs over TCP,
// TLS and WebSocket, do not stop it.
//
// Timer M lets the transaction hand retransmitted 2xx responses to the
// transaction user. Our outbound legs do that work in the dialog table
// instead: the transaction ends at our ACK (outLeg.dropInvite) and a
// retransmitted 2xx, matching no transaction, is ACKed again from the
// dialog (Adapter.onStrayResponse). But sipgo's Terminate does not stop the
// timer, whose closure holds the transaction, the INVITE and its responses
// until it fires: with sipgo's 32 s about 5.7 KB per answered call for 32 s,
// some 180 MB at 1,000 calls/s, and with 1 s (until 2026-12-08) still every
// INVITE of the last second. The timer starts only once our leg has taken
// the 2xx (sipgo's pass-up blocks until then), and our leg ACKs and ends
// the transaction right after, so a short timer loses nothing: should it
// fire first, the transaction is gone a little earlier, and a retransmitted
// 2xx goes to the dialog table as it would after the ACK.
//
// Like sip.UDPMTUSize (mtu.go) it is a sipgo package variable: set once,
// before any transaction exists. sip.SetTimers would reset it; nothing in
// sigbridge calls it.
const timerM = 50 * time.Millisecond

func init() {
	sip.Timer_M = timerM
}
