package sip

import (
	"errors"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// shed refuses a new INVITE at once, before any digest, SDP or routing
// work, while the UDP receive queue is late (INVITEs waited more than
// shedInviteAge in the socket, stale.go) or the gateway sheds load
// (gateway.Gateway.Shed): 503 with the
// gateway's shed_retry_after. Not logged per call (the gateway logs the
// start and end of an episode); counted in sigbridge_calls_shed_total.
func (a *Adapter) shed() *rejection {
	if a.gw == nil {
		return nil
	}
	if a.sockShed.active(time.Now()) {
		a.gm.CallShed("sip", signalSocketDelay)
		return &rejection{code: 503, reason: "Service Unavailable", hdrs: a.shedHeaders()}
	}
	if err := a.gw.Shed("sip"); err != nil {
		return &rejection{code: 503, reason: "Service Unavailable", hdrs: a.shedHeaders()}
	}
	return nil
}

// shedHeaders are the headers of a 503 for an overloaded gateway.
func (a *Adapter) shedHeaders() []sip.Header {
	secs := int(a.gw.Config().ShedRetryAfter.Seconds())
	return []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(max(secs, 1)))}
}

// placeFailedHeaders are the headers of the final answer to an INVITE the
// gateway did not place: a 503 says when to retry.
func (a *Adapter) placeFailedHeaders(code int, err error) []sip.Header {
	switch {
	case errors.Is(err, gateway.ErrOverloaded):
		return a.shedHeaders()
	case code == 503:
		return a.unavailable("").hdrs
	}
	return nil
}
