package gateway

import "errors"

// Sentinel errors. Each knows its SIP status and Jingle condition (Status),
// so adapters can answer in their own dialect.
var (
	ErrBadTarget    = errors.New("malformed target")
	ErrNotFound     = errors.New("user not found")
	ErrOffline      = errors.New("user offline")
	ErrBusy         = errors.New("user busy")
	ErrForbidden    = errors.New("target not permitted")
	ErrSelfCall     = errors.New("cannot call yourself")
	ErrDraining     = errors.New("gateway is draining")
	ErrTooManyCalls = errors.New("too many concurrent calls")
	ErrCallEnded    = errors.New("call has ended")
	ErrBadSDP       = errors.New("malformed SDP")
	ErrSDPLimit     = errors.New("SDP over limits")
	ErrGlare        = errors.New("an offer is already pending")
	ErrNoOffer      = errors.New("no offer is pending")
	ErrTooManyCands = errors.New("too many candidates")
	ErrOverloaded   = errors.New("gateway overloaded; try again later")
)

var statusTable = []struct {
	err  error
	code int
	cond string
}{
	{ErrBadTarget, 400, CondGeneralError},
	{ErrNotFound, 404, CondGone},
	{ErrOffline, 480, CondGone},
	{ErrBusy, 486, CondBusy},
	{ErrForbidden, 403, CondSecurityError},
	{ErrSelfCall, 400, CondGeneralError},
	{ErrDraining, 503, CondConnectivityError},
	{ErrTooManyCalls, 503, CondBusy},
	{ErrCallEnded, 481, CondGeneralError},
	{ErrSDPLimit, 413, CondIncompatibleParameters},
	{ErrBadSDP, 488, CondIncompatibleParameters},
	{ErrGlare, 409, CondGeneralError},
	{ErrNoOffer, 400, CondGeneralError},
	{ErrTooManyCands, 413, CondGeneralError},
	{ErrOverloaded, 503, CondConnectivityError},
}

// Status returns the SIP status code and Jingle condition that describe err,
// 500 general-error when err is none of the sentinels.
func Status(err error) (code int, condition string) {
	for _, s := range statusTable {
		if errors.Is(err, s.err) {
			return s.code, s.cond
		}
	}
	return 500, CondGeneralError
}
