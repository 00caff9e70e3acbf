package gateway

import (
	"time"

	"github.com/pion/sdp/v3"
)

// Event is one neutral signaling event travelling through a call.
type Event interface {
	// EventName is a short stable name, used in logs and metrics.
	EventName() string
}

// Offer carries an SDP offer (the first one of a call or a re-offer).
type Offer struct{ SDP *sdp.SessionDescription }

// Answer carries the SDP answer to the pending offer.
type Answer struct{ SDP *sdp.SessionDescription }

// Candidate is one trickled ICE candidate. Line is the raw attribute value
// ("candidate:..."), without the "a=" prefix; Mid or MLineIndex tells which
// m-line it belongs to (Mid wins when both are set). Ufrag, when known, names
// the ICE generation it belongs to.
type Candidate struct {
	Mid        string
	MLineIndex int
	Line       string
	Ufrag      string
}

// EndOfCandidates says the sender finished gathering, for one m-line (Mid set)
// or for all of them (Mid empty).
type EndOfCandidates struct{ Mid string }

// Ringing says the callee is being alerted. Code is 180, or 183 for progress.
type Ringing struct{ Code int }

// Hangup ends the call. Delivered to a leg, it tells the leg to end its side
// with the given reason. A zero Reason posted by a leg means a plain hang-up:
// the bridge turns it into success (answered) or cancel (unanswered).
type Hangup struct{ Reason Reason }

// Failure is delivered by the bridge to the leg whose message it refused
// (for example a crossing offer, 409). A leg may also post one to refuse the
// re-offer it was delivered (its peer answered a re-INVITE with 488 or 491):
// the bridge withdraws the offer and hands the Failure to the offerer. The
// call itself goes on.
type Failure struct {
	Code   int
	Reason string
	Text   string
	Ref    string // the event name that was refused
}

// EventName implements Event.
func (Offer) EventName() string { return "offer" }

// EventName implements Event.
func (Answer) EventName() string { return "answer" }

// EventName implements Event.
func (Candidate) EventName() string { return "candidate" }

// EventName implements Event.
func (EndOfCandidates) EventName() string { return "end-of-candidates" }

// EventName implements Event.
func (Ringing) EventName() string { return "ringing" }

// EventName implements Event.
func (Hangup) EventName() string { return "hangup" }

// EventName implements Event.
func (Failure) EventName() string { return "failure" }

// DTMF carries telephone-event digits signalled out of band (SIP INFO, a
// browser's dtmf message). Digits are from "0123456789*#ABCD"; Duration is
// how long each digit is played. The bridge relays it only once the call is
// answered; legs that cannot carry it drop it.
type DTMF struct {
	Digits   string
	Duration time.Duration
}

// EventName implements Event.
func (DTMF) EventName() string { return "dtmf" }
