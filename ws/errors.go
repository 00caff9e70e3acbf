package ws

import (
	"errors"
	"strings"

	"github.com/sigbridge/sigbridge/gateway"
)

// Sentinel errors of the browser dialect. Each maps to the code and reason
// of the `error` message a client receives (see status); routing and SDP
// errors from package gateway keep their own mapping (gateway.Status).
var (
	ErrMalformed       = errors.New("malformed message")
	ErrUnknownType     = errors.New("unknown message type")
	ErrUnauthenticated = errors.New("log in first")
	ErrRateLimited     = errors.New("too many messages")
	ErrTooLarge        = errors.New("message too large")
	ErrNameInUse       = errors.New("identity already connected")
	ErrCallIDInUse     = errors.New("callId already in use")
	ErrNoSuchCall      = errors.New("no such call")
	ErrBusyRenaming    = errors.New("cannot change name during a call")
	ErrRenameRate      = errors.New("too many renames")
	// ErrDirectoryDown: the cluster's shared directory is unreachable, so
	// no name can be given out (registry.go).
	ErrDirectoryDown = errors.New("user directory unavailable; try again later")
)

var statusTable = []struct {
	err  error
	code int
	cond string
}{
	{ErrMalformed, 400, gateway.CondGeneralError},
	{ErrUnknownType, 501, gateway.CondGeneralError},
	{ErrUnauthenticated, 401, gateway.CondSecurityError},
	{ErrRateLimited, 429, gateway.CondGeneralError},
	{ErrTooLarge, 413, gateway.CondGeneralError},
	{ErrNameInUse, 409, gateway.CondGeneralError},
	{ErrCallIDInUse, 409, gateway.CondGeneralError},
	{ErrNoSuchCall, 481, gateway.CondGeneralError},
	{ErrBusyRenaming, 409, gateway.CondGeneralError},
	{ErrRenameRate, 429, gateway.CondGeneralError},
	{ErrDirectoryDown, 503, gateway.CondConnectivityError},
}

// gatewaySentinels are the errors of package gateway whose text may be sent
// to a client (the wrapped details stay in the log).
var gatewaySentinels = []error{
	gateway.ErrBadTarget, gateway.ErrNotFound, gateway.ErrOffline, gateway.ErrBusy, gateway.ErrForbidden,
	gateway.ErrSelfCall, gateway.ErrDraining, gateway.ErrTooManyCalls, gateway.ErrCallEnded,
	gateway.ErrSDPLimit, gateway.ErrBadSDP, gateway.ErrGlare, gateway.ErrNoOffer, gateway.ErrTooManyCands,
	gateway.ErrOverloaded,
}

// status returns the code and reason (a Jingle condition) for err.
func status(err error) (code int, reason string) {
	for _, s := range statusTable {
		if errors.Is(err, s.err) {
			return s.code, s.cond
		}
	}
	return gateway.Status(err)
}

// clientError is an error of this package whose text is built only from
// constants and sanitised tokens, so it may be sent back to the client.
type clientError struct {
	sentinel error
	detail   string
}

func (e *clientError) Error() string { return e.sentinel.Error() + ": " + e.detail }
func (e *clientError) Unwrap() error { return e.sentinel }

// errorf returns sentinel with a detail that is safe to send to clients:
// callers pass only constants and token() output.
func errorf(sentinel error, detail string) error {
	return &clientError{sentinel: sentinel, detail: detail}
}

// publicText is the text of err that may be sent to a client: never raw
// input, never internal detail.
func publicText(err error) string {
	var ce *clientError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	for _, s := range statusTable {
		if errors.Is(err, s.err) {
			return s.err.Error()
		}
	}
	for _, s := range gatewaySentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "internal error"
}

// token sanitises a client-supplied word (a field name, a type) for use in
// an error text: at most 32 characters of [A-Za-z0-9._~:-], others as '?'.
func token(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._~:-", r):
			return r
		}
		return '?'
	}, s)
}
