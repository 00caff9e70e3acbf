package xmpp

import (
	"strconv"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// jingleReason turns a gateway reason into a Jingle <reason>: the condition
// is already a Jingle name (unknown ones become general-error); the
// original text, or the SIP status, goes into <text>.
func jingleReason(r gateway.Reason) *jingle.Reason {
	cond := r.Condition
	if !jingle.KnownReason(cond) {
		cond = jingle.ReasonGeneralError
	}
	text := r.Text
	if text == "" && r.Code >= 300 {
		text = "SIP " + strconv.Itoa(r.Code)
	}
	return jingle.NewReason(cond, clipText(text))
}

func clipText(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// reasonFromJingle turns a received <reason> into a gateway reason. Any
// condition is accepted (protocols.md §5.6); unknown ones are general-error;
// a missing reason is a plain hang-up (the bridge decides).
func reasonFromJingle(jr *jingle.Reason) gateway.Reason {
	if jr == nil || jr.Condition == "" {
		return gateway.Reason{}
	}
	cond := jr.Condition
	if !jingle.KnownReason(cond) {
		cond = gateway.CondGeneralError
	}
	return gateway.Reason{Condition: cond, Text: clipText(jr.Text)}
}

// reasonFromReject maps a JMI reject: busy -> 486, none -> decline 603
// (protocols.md §3.2), anything else as its Jingle condition.
func reasonFromReject(cond string) gateway.Reason {
	switch cond {
	case jingle.ReasonBusy:
		return gateway.Reason{Condition: gateway.CondBusy, Code: 486}
	case "", jingle.ReasonDecline:
		return gateway.Reason{Condition: gateway.CondDecline, Code: 603}
	}
	return reasonFromJingle(&jingle.Reason{Condition: cond})
}

// reasonFromIQError maps an error answer to our session-initiate (or a
// bounced propose) to a reason (protocols.md §5.6, last table).
func reasonFromIQError(r iqResult) gateway.Reason {
	switch r.cond {
	case "service-unavailable", "redirect", "gone":
		return gateway.Reason{Condition: gateway.CondGone, Code: 480, Text: r.cond}
	case "item-not-found", "recipient-unavailable", "remote-server-not-found":
		return gateway.Reason{Condition: gateway.CondGone, Code: 404, Text: r.cond}
	case "forbidden", "not-allowed", "not-authorized":
		return gateway.Reason{Condition: gateway.CondDecline, Code: 403, Text: r.cond}
	case "resource-constraint":
		return gateway.Reason{Condition: gateway.CondBusy, Code: 486, Text: r.cond}
	case "bad-request", "feature-not-implemented":
		return gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488, Text: r.cond}
	case condTimeout, "remote-server-timeout":
		return gateway.Reason{Condition: gateway.CondTimeout, Code: 408, Text: "no answer from the XMPP peer"}
	case condStreamLost:
		return gateway.ReasonDisconnected
	}
	return gateway.Reason{Condition: gateway.CondGeneralError, Code: 500, Text: r.cond}
}

// retractReason is the JMI retract payload for a caller that gave up.
func retractReason(r gateway.Reason) jmiElem {
	jr := jingleReason(r)
	if r.Condition == "" || r.Condition == gateway.CondSuccess {
		jr = jingle.NewReason(jingle.ReasonCancel, "")
	}
	return jmiElem{Reason: jr}
}

// reasonFromError is the reason for a call the gateway refused. The error
// text is not sent (it may quote the peer's input).
func reasonFromError(err error) gateway.Reason {
	code, cond := gateway.Status(err)
	return gateway.Reason{Condition: cond, Code: code}
}
