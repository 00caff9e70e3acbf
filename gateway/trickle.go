package gateway

import (
	"net/netip"
	"strings"

	"github.com/pion/sdp/v3"
)

// gatherer folds trickled candidates into an SDP that is held back for a leg
// that needs a complete SDP (half trickle, protocols.md §4.2).
type gatherer struct {
	sd       *sdp.SessionDescription
	isOffer  bool
	dropMDNS bool
	ended    []bool
	allEnded bool
}

func newGatherer(sd *sdp.SessionDescription, isOffer, dropMDNS bool) *gatherer {
	return &gatherer{sd: sd, isOffer: isOffer, dropMDNS: dropMDNS,
		ended: make([]bool, len(sd.MediaDescriptions))}
}

// errDropped reports a candidate the gatherer refused, with why.
type errDropped struct{ why string }

func (e errDropped) Error() string { return "candidate dropped: " + e.why }

// The reasons add drops a candidate for, each made an error once: an
// errDropped made an error where it happens is an allocation per dropped
// candidate (a browser's mDNS candidates toward a SIP leg, all of them).
var (
	errDroppedMLine error = errDropped{"unknown m-line"}
	errDroppedMDNS  error = errDropped{"mdns"}
	errDroppedUfrag error = errDropped{"stale-ufrag"}
	errDroppedLimit error = errDropped{"limit"}
)

// add appends c to its m-line. It returns errDropped for candidates that must
// not reach the far leg (mDNS toward a leg that cannot resolve it, a stale
// ufrag, an unknown m-line, over the per-m-line limit) and ErrBadSDP for lines
// that do not parse.
func (g *gatherer) add(c Candidate) error {
	i := MediaIndex(g.sd, c.Mid, c.MLineIndex)
	if i < 0 {
		return errDroppedMLine
	}
	parsed, err := ParseCandidate(c.Line)
	if err != nil {
		return err
	}
	if err := g.refuse(i, c, parsed); err != nil {
		return err
	}
	m := g.sd.MediaDescriptions[i]
	m.Attributes = append(m.Attributes, sdp.NewAttribute("candidate", candidateValue(c.Line)))
	return nil
}

func (g *gatherer) refuse(i int, c Candidate, parsed ICECandidate) error {
	ufrag := c.Ufrag
	if ufrag == "" {
		ufrag = parsed.Ufrag
	}
	switch {
	case g.dropMDNS && parsed.IsMDNS():
		return errDroppedMDNS
	case ufrag != "" && ufrag != MediaUfrag(g.sd, i):
		return errDroppedUfrag
	case countAttr(g.sd.MediaDescriptions[i].Attributes, "candidate") >= MaxCandidatesPerMLine:
		return errDroppedLimit
	}
	return nil
}

// end marks one m-line (mid) or all of them (mid "") as done gathering.
func (g *gatherer) end(mid string) {
	if mid == "" {
		g.allEnded = true
		return
	}
	if i := MediaIndex(g.sd, mid, -1); i >= 0 {
		g.ended[i] = true
	}
}

// complete reports whether every live m-line has ended.
func (g *gatherer) complete() bool {
	if g.allEnded {
		return true
	}
	for i, m := range g.sd.MediaDescriptions {
		if !g.ended[i] && m.MediaName.Port.Value != 0 {
			return false
		}
	}
	return true
}

// finish returns the complete SDP: default address and port per m-line from
// its best candidate, a=end-of-candidates, no trickle ice-option.
func (g *gatherer) finish() *sdp.SessionDescription {
	fallback, hasFallback := bestCandidate(g.sd.MediaDescriptions...)
	for _, m := range g.sd.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		best, ok := bestCandidate(m)
		if !ok {
			best, ok = fallback, hasFallback
		}
		setDefaultAddress(m, best, ok)
		if _, has := m.Attribute("end-of-candidates"); !has {
			m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute("end-of-candidates"))
		}
	}
	StripTrickleOption(g.sd)
	return g.sd
}

func bestCandidate(ms ...*sdp.MediaDescription) (ICECandidate, bool) {
	var best ICECandidate
	bestRank := -1
	for _, m := range ms {
		for _, a := range m.Attributes {
			if a.Key != "candidate" {
				continue
			}
			c, err := ParseCandidate(a.Value)
			if r := c.rank(); err == nil && r > bestRank {
				best, bestRank = c, r
			}
		}
	}
	return best, bestRank >= 0
}

func setDefaultAddress(m *sdp.MediaDescription, c ICECandidate, ok bool) {
	if !ok {
		c = ICECandidate{Address: "0.0.0.0", Port: 9}
	}
	addrType := "IP4"
	if a, err := netip.ParseAddr(c.Address); err == nil && !a.Unmap().Is4() {
		addrType = "IP6"
	}
	m.MediaName.Port.Value = c.Port
	ca := &connAddr{ci: sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType},
		addr: sdp.Address{Address: c.Address}}
	ca.ci.Address = &ca.addr
	m.ConnectionInformation = &ca.ci
}

// connAddr is a c= line and its address in one allocation.
type connAddr struct {
	ci   sdp.ConnectionInformation
	addr sdp.Address
}

// candidateValue is the a=candidate attribute value of a trickled line
// ("candidate:1 1 udp ..." or "a=candidate:1 ..." -> "1 1 udp ...").
func candidateValue(line string) string {
	return strings.TrimPrefix(trimCandidate(line), "candidate:")
}

func trimCandidate(line string) string {
	if len(line) > 2 && line[:2] == "a=" {
		return line[2:]
	}
	return line
}
