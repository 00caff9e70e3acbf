package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// hasCtl reports whether the header's value, as sipgo would write it,
// holds a byte of bad. sipgo's typed headers write their parsed parts
// joined by separators that are never a control byte, so their parts are
// checked one by one instead of building the value: Value() of a From,
// Via or Contact formats the whole header, some ten allocations each, and
// checkHeaderBytes ran it on every header of every request (about 40
// allocations per INVITE). Other headers (generic ones keep the text as
// received) are checked on their value.
func hasCtl(h sip.Header, bad string) bool {
	switch h := h.(type) {
	case *sip.FromHeader:
		return nameAddrCtl(h.DisplayName, &h.Address, h.Params, bad)
	case *sip.ToHeader:
		return nameAddrCtl(h.DisplayName, &h.Address, h.Params, bad)
	case *sip.ContactHeader:
		return nameAddrCtl(h.DisplayName, &h.Address, h.Params, bad)
	case *sip.ViaHeader:
		return anyCtl(bad, h.ProtocolName, h.ProtocolVersion, h.Transport, h.Host) || paramsCtl(h.Params, bad)
	case *sip.CSeqHeader:
		return strings.ContainsAny(string(h.MethodName), bad)
	case *sip.RouteHeader:
		return uriCtl(&h.Address, bad)
	case *sip.RecordRouteHeader:
		return uriCtl(&h.Address, bad)
	case *sip.ContentLengthHeader, *sip.MaxForwardsHeader, *sip.ExpiresHeader:
		return false // numbers
	}
	return strings.ContainsAny(h.Value(), bad)
}

func nameAddrCtl(display string, u *sip.Uri, params sip.HeaderParams, bad string) bool {
	return strings.ContainsAny(display, bad) || uriCtl(u, bad) || paramsCtl(params, bad)
}

func uriCtl(u *sip.Uri, bad string) bool {
	return anyCtl(bad, u.Scheme, u.Raw(), u.User, u.Password, u.Host) ||
		paramsCtl(u.UriParams, bad) || paramsCtl(u.Headers, bad)
}

func paramsCtl(p sip.HeaderParams, bad string) bool {
	for _, kv := range p {
		if strings.ContainsAny(kv.K, bad) || strings.ContainsAny(kv.V, bad) {
			return true
		}
	}
	return false
}

func anyCtl(bad string, parts ...string) bool {
	for _, s := range parts {
		if strings.ContainsAny(s, bad) {
			return true
		}
	}
	return false
}
