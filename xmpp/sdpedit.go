package xmpp

import (
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
)

// Small SDP readers and editors for renegotiation (reneg.go). They work on
// copies made with gateway.CloneSDP; m-lines are addressed by index.

// SDP directions.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

func isDirection(key string) bool {
	switch key {
	case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
		return true
	}
	return false
}

// mediaDir returns the direction of m-line i (media level, else session
// level, else sendrecv).
func mediaDir(sd *sdp.SessionDescription, i int) string {
	for _, a := range sd.MediaDescriptions[i].Attributes {
		if isDirection(a.Key) {
			return a.Key
		}
	}
	for _, a := range sd.Attributes {
		if isDirection(a.Key) {
			return a.Key
		}
	}
	return dirSendRecv
}

// setMediaDir replaces the media-level direction of m.
func setMediaDir(m *sdp.MediaDescription, dir string) {
	m.Attributes = slices.DeleteFunc(m.Attributes, func(a sdp.Attribute) bool { return isDirection(a.Key) })
	m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(dir))
}

// dropSessionDir removes a session-level direction (media-level ones are
// written instead).
func dropSessionDir(sd *sdp.SessionDescription) {
	sd.Attributes = slices.DeleteFunc(sd.Attributes, func(a sdp.Attribute) bool { return isDirection(a.Key) })
}

// dirBits splits a direction into "sends" and "receives".
func dirBits(d string) (send, recv bool) {
	switch d {
	case dirSendOnly:
		return true, false
	case dirRecvOnly:
		return false, true
	case dirInactive:
		return false, false
	}
	return true, true
}

func dirOf(send, recv bool) string {
	switch {
	case send && recv:
		return dirSendRecv
	case send:
		return dirSendOnly
	case recv:
		return dirRecvOnly
	}
	return dirInactive
}

// answerDir is the answer to an offered direction by an answerer that
// wants want (its own view), RFC 3264 §6.1: it may send only if the
// offerer receives, receive only if the offerer sends.
func answerDir(offer, want string) string {
	os, or := dirBits(offer)
	ws, wr := dirBits(want)
	return dirOf(or && ws, os && wr)
}

// holdDir is d without receiving: the direction of a party that holds.
func holdDir(d string) string {
	s, _ := dirBits(d)
	return dirOf(s, false)
}

// mediaAttr returns attribute key of m-line i, media level first.
func mediaAttr(sd *sdp.SessionDescription, i int, key string) string {
	if v, ok := sd.MediaDescriptions[i].Attribute(key); ok {
		return v
	}
	v, _ := sd.Attribute(key)
	return v
}

// setAttr replaces the first attribute key of attrs, or appends it.
func setAttr(attrs []sdp.Attribute, key, value string) []sdp.Attribute {
	for k := range attrs {
		if attrs[k].Key == key {
			attrs[k].Value = value
			return attrs
		}
	}
	return append(attrs, sdp.NewAttribute(key, value))
}

// creds returns the ICE credentials of m-line i.
func creds(sd *sdp.SessionDescription, i int) (ufrag, pwd string) {
	return mediaAttr(sd, i, "ice-ufrag"), mediaAttr(sd, i, "ice-pwd")
}

// fingerprints returns the sorted a=fingerprint values of m-line i (media
// level, else session level).
func fingerprints(sd *sdp.SessionDescription, i int) []string {
	var out []string
	for _, a := range sd.MediaDescriptions[i].Attributes {
		if a.Key == "fingerprint" {
			out = append(out, strings.ToLower(a.Value))
		}
	}
	if len(out) == 0 {
		for _, a := range sd.Attributes {
			if a.Key == "fingerprint" {
				out = append(out, strings.ToLower(a.Value))
			}
		}
	}
	slices.Sort(out)
	return out
}

// isLive reports an m-line that is not rejected (port 0 without bundle-only).
func isLive(m *sdp.MediaDescription) bool {
	if m.MediaName.Port.Value != 0 {
		return true
	}
	_, bundleOnly := m.Attribute("bundle-only")
	return bundleOnly
}

// mid returns the a=mid of m.
func mid(m *sdp.MediaDescription) string {
	v, _ := m.Attribute("mid")
	return v
}

// keepFormats restricts m to the formats in keep (m-line order) and drops
// the rtpmap, fmtp and rtcp-fb lines of the others.
func keepFormats(m *sdp.MediaDescription, keep []string) {
	m.MediaName.Formats = slices.DeleteFunc(m.MediaName.Formats, func(f string) bool { return !slices.Contains(keep, f) })
	m.Attributes = slices.DeleteFunc(m.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "rtpmap", "fmtp", "rtcp-fb":
			pt, _, _ := strings.Cut(a.Value, " ")
			return pt != "*" && !slices.Contains(keep, pt)
		}
		return false
	})
}

// commonFormats returns the formats of a (in its order) that every other
// list also has.
func commonFormats(a []string, others ...[]string) []string {
	var out []string
	for _, f := range a {
		ok := true
		for _, o := range others {
			if !slices.Contains(o, f) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}

// candidateValues lists the a=candidate values of m-line i.
func candidateValues(m *sdp.MediaDescription) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key == "candidate" {
			out = append(out, a.Value)
		}
	}
	return out
}

// addCandidate appends a=candidate:value to m unless it is there already or
// the m-line is full.
func addCandidate(m *sdp.MediaDescription, value string) {
	value = strings.TrimPrefix(value, "candidate:")
	n := 0
	for _, a := range m.Attributes {
		if a.Key == "candidate" {
			if a.Value == value {
				return
			}
			n++
		}
	}
	if n < gateway.MaxCandidatesPerMLine {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("candidate", value))
	}
}

// setCredentials replaces the ICE credentials of every m-line (and the
// session level) that used oldUfrag, and drops their candidates: they
// belong to the old ICE generation.
func setCredentials(sd *sdp.SessionDescription, oldUfrag, ufrag, pwd string) {
	if v, ok := sd.Attribute("ice-ufrag"); ok && v == oldUfrag {
		sd.Attributes = setAttr(setAttr(sd.Attributes, "ice-ufrag", ufrag), "ice-pwd", pwd)
	}
	for i, m := range sd.MediaDescriptions {
		if u, _ := creds(sd, i); u != oldUfrag && u != ufrag {
			continue
		}
		if _, ok := m.Attribute("ice-ufrag"); ok {
			m.Attributes = setAttr(setAttr(m.Attributes, "ice-ufrag", ufrag), "ice-pwd", pwd)
		}
		m.Attributes = slices.DeleteFunc(m.Attributes, func(a sdp.Attribute) bool {
			return a.Key == "candidate" || a.Key == "end-of-candidates"
		})
	}
}

// setSetup rewrites a=setup on every m-line that has one (and the session
// level) to role.
func setSetup(sd *sdp.SessionDescription, role string) {
	if role == "" {
		return
	}
	if _, ok := sd.Attribute("setup"); ok {
		sd.Attributes = setAttr(sd.Attributes, "setup", role)
	}
	for _, m := range sd.MediaDescriptions {
		if _, ok := m.Attribute("setup"); ok {
			m.Attributes = setAttr(m.Attributes, "setup", role)
		}
	}
}

// otherSetup is the DTLS role that complements role in an answer: the
// answerer's default (RFC 4145) is active.
func otherSetup(role string) string {
	if role == "active" || role == "" || role == "actpass" {
		return "passive"
	}
	return "active"
}

// setBundle rewrites a=group:BUNDLE of ans to the offer's bundled mids that
// are live in ans (RFC 9143: rejected lines leave the group); no offer
// group, no answer group.
func setBundle(ans, offer *sdp.SessionDescription) {
	ans.Attributes = slices.DeleteFunc(ans.Attributes, func(a sdp.Attribute) bool {
		return a.Key == "group" && strings.HasPrefix(a.Value, "BUNDLE")
	})
	g, ok := offer.Attribute("group")
	if !ok || !strings.HasPrefix(g, "BUNDLE") {
		return
	}
	live := map[string]bool{}
	for _, m := range ans.MediaDescriptions {
		if isLive(m) {
			live[mid(m)] = true
		}
	}
	out := []string{"BUNDLE"}
	for _, m := range strings.Fields(g)[1:] {
		if live[m] {
			out = append(out, m)
		}
	}
	if len(out) > 1 {
		ans.Attributes = append([]sdp.Attribute{sdp.NewAttribute("group", strings.Join(out, " "))}, ans.Attributes...)
	}
}

// sameSDP reports whether a and b are the same SDP apart from o=.
func sameSDP(a, b *sdp.SessionDescription) bool {
	if a == nil || b == nil {
		return false
	}
	x, y := *a, *b
	x.Origin, y.Origin = sdp.Origin{}, sdp.Origin{}
	return gateway.MarshalSDP(&x) == gateway.MarshalSDP(&y)
}
