package sip

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// reasonHeader renders r as an RFC 3326 Reason header for BYE and CANCEL:
// "Q.850;cause=16" for a normal end, "SIP;cause=<code>" otherwise, with the
// condition (and text, when safe) as text.
//
// The value is one concatenation (statusLabel, displayName: no string of
// their own for the usual codes and texts).
func reasonHeader(r gateway.Reason) sip.Header {
	proto, cause := "Q.850", "16"
	if r.Code >= 300 && r.Code < 700 {
		proto, cause = "SIP", statusLabel(r.Code)
	}
	text := r.Condition
	if r.Text != "" {
		text = r.Text
	}
	if text != "" && checkHeaderValue(text) == nil {
		return sip.NewHeader("Reason", proto+";cause="+cause+`;text="`+displayName(text)+`"`)
	}
	return sip.NewHeader("Reason", proto+";cause="+cause)
}

// reasonFromBye maps the Reason header of a received BYE (protocols.md
// §5.6): Q.850 causes 17/21/18-19/34-42/127, else a plain hang-up.
func reasonFromBye(req *sip.Request) gateway.Reason {
	h := req.GetHeader("Reason")
	if h == nil {
		return gateway.Reason{}
	}
	proto, cause := parseReason(h.Value())
	switch strings.ToUpper(proto) {
	case "Q.850":
		return q850Reason(cause)
	case "SIP":
		if cause >= 400 && cause < 700 {
			return gateway.ReasonFromSIP(cause)
		}
	}
	return gateway.Reason{}
}

func parseReason(v string) (string, int) {
	parts := strings.Split(v, ";")
	proto := strings.TrimSpace(parts[0])
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "cause") {
			n, _ := strconv.Atoi(strings.TrimSpace(val))
			return proto, n
		}
	}
	return proto, 0
}

func q850Reason(cause int) gateway.Reason {
	cond := ""
	switch {
	case cause == 17:
		cond = gateway.CondBusy
	case cause == 21:
		cond = gateway.CondDecline
	case cause == 18 || cause == 19:
		cond = gateway.CondTimeout
	case cause >= 34 && cause <= 42:
		cond = gateway.CondConnectivityError
	case cause == 127:
		cond = gateway.CondGeneralError
	default:
		return gateway.Reason{}
	}
	return gateway.Reason{Condition: cond, Text: "Q.850 cause " + strconv.Itoa(cause)}
}
