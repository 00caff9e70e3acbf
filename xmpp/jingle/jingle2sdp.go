package jingle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// JingleToSDP converts a complete Jingle description (session-initiate,
// session-accept, content-add...) sent by author into an SDP.
//
// The m-lines follow the slot order of opt.Mids; a slot whose content is
// missing from j (an answer lacking an offered content) or rejected
// (senders='rejected') becomes a port-0 m-line with its media type, one
// format and its a=mid, and leaves the BUNDLE group (protocols.md §2.5 d).
// So pass a complete description: for a content-add, convert the session's
// contents plus the new one. Transport-info candidates need no SDP: use
// MidTable.MidForName / IndexForName and Candidate.SDPLine.
// Errors are *JingleError values naming the content.
func JingleToSDP(j *Jingle, author Role, opt JingleToSDPOptions) (*sdp.SessionDescription, error) {
	if j == nil {
		return nil, fmt.Errorf("%w: nil jingle", ErrBadJingle)
	}
	if err := checkContents(j.Contents); err != nil {
		return nil, err
	}
	t := opt.Mids
	if t == nil {
		t = &MidTable{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := jingleConv{author: author, opt: opt, t: t, bySlot: recordContents(t, j.Contents)}
	if len(t.slots) == 0 {
		return nil, &JingleError{Err: fmt.Errorf("%w: no content", ErrBadJingle)}
	}
	c.allowMixed = allowMixedEverywhere(c.bySlot)
	sd, err := newSession(opt.Origin)
	if err != nil {
		return nil, err
	}
	for k := range t.slots {
		md, err := c.slotMedia(k)
		if err != nil {
			return nil, err
		}
		sd.MediaDescriptions = append(sd.MediaDescriptions, md)
	}
	sd.Attributes = c.sessionAttributes(j.Group)
	return sd, nil
}

// checkContents validates what must hold before the table is touched.
func checkContents(cs []Content) error {
	if len(cs) > MaxMediaLines {
		return &JingleError{Err: fmt.Errorf("%w: %d contents (max %d)", ErrLimit, len(cs), MaxMediaLines)}
	}
	for k := range cs {
		if err := checkContent(&cs[k]); err != nil {
			return &JingleError{Content: cs[k].Name, Err: err}
		}
		for m := range k {
			if cs[m].Name == cs[k].Name {
				return &JingleError{Content: cs[k].Name, Err: fmt.Errorf("%w: duplicate content name", ErrBadJingle)}
			}
		}
	}
	return nil
}

func checkContent(c *Content) error {
	if c.Name == "" {
		return fmt.Errorf("%w: content without name", ErrBadJingle)
	}
	kind := contentKind(c)
	if kind == kindOther && !c.IsRejected() {
		return fmt.Errorf("%w: no RTP description and no sctpmap", ErrBadJingle)
	}
	if kind == kindRTP {
		if err := checkDescription(c.Description); err != nil {
			return err
		}
	}
	if c.Transport != nil && len(c.Transport.Candidates) > MaxCandidates {
		return fmt.Errorf("%w: %d candidates (max %d)", ErrLimit, len(c.Transport.Candidates), MaxCandidates)
	}
	return nil
}

func checkDescription(d *Description) error {
	switch n := len(d.PayloadTypes); {
	case n > MaxFormats:
		return fmt.Errorf("%w: %d payload types (max %d)", ErrLimit, n, MaxFormats)
	case !isToken(d.Media, 32):
		return fmt.Errorf("%w: bad media %q", ErrBadJingle, clip(d.Media))
	}
	for _, p := range d.PayloadTypes {
		if p.ID > 127 {
			return fmt.Errorf("%w: payload type %d over 127", ErrBadJingle, p.ID)
		}
	}
	return checkDescriptionText(d)
}

// contentKind tells an RTP content from a data channel one.
func contentKind(c *Content) mediaKindT {
	d := c.Description
	if d != nil && len(d.PayloadTypes) > 0 && (d.Media == "audio" || d.Media == "video") {
		return kindRTP
	}
	if c.DataChannel != nil || c.Transport != nil && c.Transport.SCTPMap != nil || d != nil && d.Media == "application" {
		return kindData
	}
	return kindOther
}

func contentMedia(c *Content) string {
	if contentKind(c) == kindRTP {
		return c.Description.Media
	}
	return "application"
}

// recordContents enters every content into the table and returns, per slot
// index, the content (nil: absent, i.e. rejected by this description).
func recordContents(t *MidTable, cs []Content) []*Content {
	for k := range cs {
		s := Slot{
			Name: cs[k].Name, Media: contentMedia(&cs[k]), Creator: cs[k].Creator,
			Rejected: cs[k].IsRejected(),
		}
		if contentKind(&cs[k]) == kindRTP {
			s.Proto, s.Format = rtpProto(&cs[k]), strconv.Itoa(int(cs[k].Description.PayloadTypes[0].ID))
		}
		t.fromJingle(s)
	}
	bySlot := make([]*Content, len(t.slots))
	for k := range cs {
		bySlot[t.byName(cs[k].Name)] = &cs[k]
	}
	for k := range bySlot {
		if bySlot[k] == nil {
			t.slots[k].Rejected = true
		}
	}
	return bySlot
}

func newSession(o sdp.Origin) (*sdp.SessionDescription, error) {
	o.Username = orStr(o.Username, "-")
	o.NetworkType = orStr(o.NetworkType, "IN")
	o.AddressType = orStr(o.AddressType, "IP4")
	o.UnicastAddress = orStr(o.UnicastAddress, "127.0.0.1")
	for _, f := range []string{o.Username, o.NetworkType, o.AddressType, o.UnicastAddress} {
		if !isToken(f, 256) {
			return nil, fmt.Errorf("%w: bad origin field %q", ErrBadJingle, clip(f))
		}
	}
	return &sdp.SessionDescription{
		Origin:           o,
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}, nil
}

type jingleConv struct {
	author     Role
	opt        JingleToSDPOptions
	t          *MidTable
	bySlot     []*Content
	allowMixed bool // extmap-allow-mixed written at session level
}

func (c *jingleConv) slotMedia(k int) (*sdp.MediaDescription, error) {
	slot := c.t.slots[k]
	content := c.bySlot[k]
	if slot.Rejected {
		return rejectedMedia(&c.t.slots[k]), nil
	}
	var md *sdp.MediaDescription
	var err error
	if contentKind(content) == kindData {
		md, err = c.dataMedia(slot, content)
	} else {
		md, err = c.rtpMedia(slot, content)
	}
	if err == nil {
		err = checkSDPText(md)
	}
	if err != nil {
		return nil, &JingleError{Content: slot.Name, Err: err}
	}
	c.t.slots[k].Proto = strings.Join(md.MediaName.Protos, "/")
	c.t.slots[k].Format = md.MediaName.Formats[0]
	return md, nil
}

// rejectedMedia is a port-0 m-line: media type, one format, a=mid.
func rejectedMedia(s *Slot) *sdp.MediaDescription {
	proto, format := s.Proto, s.Format
	if proto == "" && s.Media == "application" {
		proto = "UDP/DTLS/SCTP"
	}
	if format == "" && s.Media == "application" {
		format = "webrtc-datachannel"
	}
	return &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media: s.Media, Port: sdp.RangedPort{Value: 0},
			Protos: strings.Split(orStr(proto, "UDP/TLS/RTP/SAVPF"), "/"), Formats: []string{orStr(format, "0")},
		},
		ConnectionInformation: zeroConnection(),
		Attributes:            []sdp.Attribute{{Key: "mid", Value: s.Mid}},
	}
}

func zeroConnection() *sdp.ConnectionInformation {
	return &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: "0.0.0.0"}}
}

// sessionAttributes writes a=group (mids of accepted slots, in group
// order), extmap-allow-mixed when every RTP content has it, and
// msid-semantic.
func (c *jingleConv) sessionAttributes(g *Group) []sdp.Attribute {
	var attrs []sdp.Attribute
	if g != nil && isToken(g.Kind(), 32) {
		mids := []string{g.Kind()}
		for _, name := range g.Names() {
			if k := c.t.byName(name); k >= 0 && !c.t.slots[k].Rejected {
				mids = append(mids, c.t.slots[k].Mid)
			}
		}
		if len(mids) > 1 {
			attrs = append(attrs, sdp.Attribute{Key: "group", Value: strings.Join(mids, " ")})
		}
	}
	if c.allowMixed {
		attrs = append(attrs, sdp.Attribute{Key: "extmap-allow-mixed"})
	}
	return append(attrs, sdp.Attribute{Key: "msid-semantic", Value: " WMS *"})
}

// allowMixedEverywhere reports whether every present RTP content has
// extmap-allow-mixed (then it is written once, at session level, as Chrome does).
func allowMixedEverywhere(bySlot []*Content) bool {
	n := 0
	for _, c := range bySlot {
		if c == nil || c.IsRejected() || contentKind(c) != kindRTP {
			continue
		}
		if !c.Description.ExtmapAllowMixed {
			return false
		}
		n++
	}
	return n > 0
}

// checkSDPText refuses control characters (CR/LF injection) and empty keys.
func checkSDPText(md *sdp.MediaDescription) error {
	for _, a := range md.Attributes {
		if hasCTL(a.Key) || hasCTL(a.Value) {
			return fmt.Errorf("%w: control character in %q", ErrBadJingle, clip(attrLine(a.Key, a.Value)))
		}
	}
	for _, f := range md.MediaName.Formats {
		if hasCTL(f) || f == "" {
			return fmt.Errorf("%w: bad format %q", ErrBadJingle, clip(f))
		}
	}
	return nil
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
