package jingle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// SDPToJingle converts an SDP written by author into Jingle contents and the
// BUNDLE group. The caller sets Action, SID and Initiator/Responder.
//
// Rejected m-lines (port 0 without bundle-only) and m-lines Jingle cannot
// express (m=image, m=text, non-SCTP application) produce no content, but
// keep their slot in opt.Mids so that JingleToSDP restores them in place.
// A content keeps the creator first recorded in opt.Mids; a new content
// gets the author's role. Errors are *SDPError values naming the m-line and
// the offending line.
func SDPToJingle(sd *sdp.SessionDescription, author Role, opt SDPToJingleOptions) (*Jingle, error) {
	if sd == nil {
		return nil, fmt.Errorf("%w: nil session description", ErrBadSDP)
	}
	if n := len(sd.MediaDescriptions); n > MaxMediaLines {
		return nil, &SDPError{MLine: -1, Err: fmt.Errorf("%w: %d m-lines (max %d)", ErrLimit, n, MaxMediaLines)}
	}
	sess, err := readSession(sd.Attributes)
	if err != nil {
		return nil, err
	}
	t := opt.Mids
	if t == nil {
		t = &MidTable{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := sdpConv{sess: sess, author: author, opt: opt, t: t}
	j := &Jingle{Contents: make([]Content, 0, len(sd.MediaDescriptions))}
	for i, md := range sd.MediaDescriptions {
		content, ok, err := c.media(i, md)
		if err != nil {
			return nil, err
		}
		if ok {
			j.Contents = append(j.Contents, content)
		}
	}
	j.Group = c.group()
	return j, nil
}

// sessionAttrs holds the session-level attributes copied into every content.
type sessionAttrs struct {
	ufrag, pwd, setup, direction string
	fingerprints                 []Fingerprint
	allowMixed                   bool
	bundle                       []string // mids
}

func readSession(attrs []sdp.Attribute) (sessionAttrs, error) {
	var s sessionAttrs
	for _, a := range attrs {
		if err := checkLineLength(-1, a); err != nil {
			return s, err
		}
		if err := s.read(a); err != nil {
			return s, &SDPError{MLine: -1, Line: attrLine(a.Key, a.Value), Err: err}
		}
	}
	return s, nil
}

func (s *sessionAttrs) read(a sdp.Attribute) error {
	switch {
	case a.Key == "ice-ufrag":
		s.ufrag = a.Value
	case a.Key == "ice-pwd":
		s.pwd = a.Value
	case a.Key == "setup":
		s.setup = a.Value
	case a.Key == "extmap-allow-mixed":
		s.allowMixed = true
	case isDirection(a.Key):
		s.direction = a.Key
	case a.Key == "fingerprint":
		fp, err := parseFingerprint(a.Value)
		s.fingerprints = append(s.fingerprints, fp)
		return err
	case a.Key == "group" && s.bundle == nil:
		if f := strings.Fields(a.Value); len(f) > 0 && f[0] == "BUNDLE" {
			s.bundle = append([]string{}, f[1:]...)
		}
	}
	return nil
}

func checkLineLength(mline int, a sdp.Attribute) error {
	if len(a.Key)+len(a.Value) > MaxSDPLineLength {
		return &SDPError{MLine: mline, Line: attrLine(a.Key, ""), Err: fmt.Errorf("%w: line over %d bytes", ErrLimit, MaxSDPLineLength)}
	}
	return nil
}

type sdpConv struct {
	sess   sessionAttrs
	author Role
	opt    SDPToJingleOptions
	t      *MidTable
}

// media converts one m-line; ok is false for a slot without content.
func (c *sdpConv) media(i int, md *sdp.MediaDescription) (Content, bool, error) {
	if err := checkMediaLimits(i, md); err != nil {
		return Content{}, false, err
	}
	kind := mediaKind(md)
	slot := c.recordSlot(i, md, kind)
	if slot.Rejected {
		return Content{}, false, nil
	}
	content := Content{Creator: slot.Creator, Name: slot.Name}
	tr, err := c.transport(i, md, kind == kindData)
	if err != nil {
		return content, false, err
	}
	content.Transport = tr
	if kind == kindData {
		return content, true, nil
	}
	content.Senders = omitBoth(SendersFromDirection(c.direction(md), c.author))
	content.Description, err = c.description(i, md, slot.Name)
	return content, err == nil, err
}

type mediaKindT int

const (
	kindRTP mediaKindT = iota
	kindData
	kindOther // cannot be expressed in Jingle: kept as a rejected slot
)

func mediaKind(md *sdp.MediaDescription) mediaKindT {
	switch md.MediaName.Media {
	case "audio", "video":
		if strings.Contains(strings.Join(md.MediaName.Protos, "/"), "RTP") {
			return kindRTP
		}
	case "application":
		if strings.Contains(strings.Join(md.MediaName.Protos, "/"), "SCTP") {
			return kindData
		}
	}
	return kindOther
}

func (c *sdpConv) recordSlot(i int, md *sdp.MediaDescription, kind mediaKindT) Slot {
	mid, _ := md.Attribute("mid")
	_, bundleOnly := md.Attribute("bundle-only")
	s := Slot{
		Mid: mid, Media: md.MediaName.Media, Proto: strings.Join(md.MediaName.Protos, "/"),
		Creator:  c.author.String(),
		Rejected: kind == kindOther || md.MediaName.Port.Value == 0 && !bundleOnly,
	}
	if len(md.MediaName.Formats) > 0 {
		s.Format = md.MediaName.Formats[0]
	}
	return c.t.slots[c.t.fromSDP(i, s)]
}

func checkMediaLimits(i int, md *sdp.MediaDescription) error {
	if n := len(md.MediaName.Formats); n > MaxFormats {
		return &SDPError{MLine: i, Err: fmt.Errorf("%w: %d formats (max %d)", ErrLimit, n, MaxFormats)}
	}
	cands := 0
	for _, a := range md.Attributes {
		if err := checkLineLength(i, a); err != nil {
			return err
		}
		if a.Key == "candidate" {
			cands++
		}
	}
	if cands > MaxCandidates {
		return &SDPError{MLine: i, Err: fmt.Errorf("%w: %d candidates (max %d)", ErrLimit, cands, MaxCandidates)}
	}
	return nil
}

func (c *sdpConv) direction(md *sdp.MediaDescription) string {
	for _, a := range md.Attributes {
		if isDirection(a.Key) {
			return a.Key
		}
	}
	return c.sess.direction
}

// group maps the BUNDLE mids to content names, leaving out rejected slots.
func (c *sdpConv) group() *Group {
	if c.sess.bundle == nil {
		return nil
	}
	g := &Group{Semantics: "BUNDLE"}
	for _, mid := range c.sess.bundle {
		if k := c.t.byMid(mid); k >= 0 && !c.t.slots[k].Rejected {
			g.Contents = append(g.Contents, GroupContent{Name: c.t.slots[k].Name})
		}
	}
	if len(g.Contents) == 0 {
		return nil
	}
	return g
}

func parseFingerprint(v string) (Fingerprint, error) {
	hash, value, ok := strings.Cut(strings.TrimSpace(v), " ")
	value = strings.TrimSpace(value)
	if !ok || hash == "" || value == "" {
		return Fingerprint{}, fmt.Errorf("%w: want \"hash value\"", ErrBadSDP)
	}
	return Fingerprint{Hash: hash, Value: value}, nil
}

func parseUint(s string, bits int, what string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: bad %s %q", ErrBadSDP, what, clip(s))
	}
	return v, nil
}
