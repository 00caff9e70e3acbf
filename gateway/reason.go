package gateway

// Jingle conditions (XEP-0166), used as the neutral reason vocabulary by all
// three dialects: the browser dialect sends them as "reason", SIP maps them to
// status codes and Reason headers.
const (
	CondSuccess                 = "success"
	CondBusy                    = "busy"
	CondDecline                 = "decline"
	CondCancel                  = "cancel"
	CondTimeout                 = "timeout"
	CondExpired                 = "expired"
	CondGone                    = "gone"
	CondConnectivityError       = "connectivity-error"
	CondFailedTransport         = "failed-transport"
	CondFailedApplication       = "failed-application"
	CondGeneralError            = "general-error"
	CondIncompatibleParameters  = "incompatible-parameters"
	CondMediaError              = "media-error"
	CondSecurityError           = "security-error"
	CondUnsupportedApplications = "unsupported-applications"
	CondUnsupportedTransports   = "unsupported-transports"
	CondAlternativeSession      = "alternative-session"
)

// Reason says why a call or leg ended: a Jingle condition, a SIP status code
// (0 when none applies) and optional free text.
type Reason struct {
	Condition string
	Code      int
	Text      string
}

// IsZero reports whether no reason was given.
func (r Reason) IsZero() bool { return r.Condition == "" && r.Code == 0 }

// ReasonFromSIP maps a final SIP status received from a peer to a Reason
// (protocols.md §5.6, SIP -> Jingle -> browser).
func ReasonFromSIP(code int) Reason {
	return Reason{Condition: conditionForSIP(code), Code: code}
}

func conditionForSIP(code int) string {
	switch code {
	case 200:
		return CondSuccess
	case 486, 600:
		return CondBusy
	case 603, 607, 608, 403:
		return CondDecline
	case 404, 410, 480, 484, 604:
		return CondGone
	case 408, 504:
		return CondTimeout
	case 487:
		return CondCancel
	case 488, 606, 415:
		return CondIncompatibleParameters
	case 401, 407:
		return CondSecurityError
	case 502, 503:
		return CondConnectivityError
	}
	return CondGeneralError
}

// SIPCode is the status a SIP UAS sends for this reason on an unanswered call
// (protocols.md §5.6, Jingle / browser -> SIP). An explicit Code wins.
func (r Reason) SIPCode() int {
	if r.Code >= 400 && r.Code < 700 {
		return r.Code
	}
	switch r.Condition {
	case CondBusy, CondAlternativeSession:
		return 486
	case CondDecline, CondCancel, CondSuccess, "":
		return 603
	case CondTimeout, CondExpired, CondGone, CondConnectivityError:
		return 480
	case CondGeneralError:
		return 500
	}
	return 488
}

// Common reasons.
var (
	ReasonSuccess      = Reason{Condition: CondSuccess, Code: 200}
	ReasonCancel       = Reason{Condition: CondCancel, Code: 487}
	ReasonRingTimeout  = Reason{Condition: CondTimeout, Code: 408, Text: "no answer"}
	ReasonDisconnected = Reason{Condition: CondConnectivityError, Code: 480, Text: "peer disconnected"}
	ReasonShutdown     = Reason{Condition: CondGeneralError, Code: 503, Text: "gateway shutting down"}
	ReasonInternal     = Reason{Condition: CondGeneralError, Code: 500, Text: "internal error"}
)

// defaultCodes gives a reason without a SIP status the one that usually goes
// with its condition, so every dialect can show a code.
var defaultCodes = map[string]int{
	CondSuccess: 200, CondCancel: 487, CondBusy: 486, CondDecline: 603, CondTimeout: 408,
	CondExpired: 408, CondGone: 480, CondConnectivityError: 480, CondFailedTransport: 480,
	CondIncompatibleParameters: 488, CondUnsupportedApplications: 488, CondUnsupportedTransports: 488,
	CondFailedApplication: 488, CondMediaError: 488, CondSecurityError: 403, CondGeneralError: 500,
	CondAlternativeSession: 486,
}

// WithDefaultCode fills in Code from the condition when it is 0.
func (r Reason) WithDefaultCode() Reason {
	if r.Code == 0 {
		r.Code = defaultCodes[r.Condition]
	}
	return r
}
