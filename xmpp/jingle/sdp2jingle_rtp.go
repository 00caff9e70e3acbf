package jingle

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// descBuilder fills a Description from one m-line's attributes.
type descBuilder struct {
	d               Description
	msid            string
	ptime, maxptime uint32
	name            string // content name, for the extmap table
	c               *sdpConv
}

func (c *sdpConv) description(i int, md *sdp.MediaDescription, name string) (*Description, error) {
	b := descBuilder{name: name, c: c}
	b.d.Media = md.MediaName.Media
	b.d.ExtmapAllowMixed = Flag(c.sess.allowMixed)
	if err := b.formats(md.MediaName.Formats); err != nil {
		return nil, &SDPError{MLine: i, Line: "m=" + md.MediaName.String(), Err: err}
	}
	for _, a := range md.Attributes {
		if err := b.attr(a); err != nil {
			return nil, &SDPError{MLine: i, Line: attrLine(a.Key, a.Value), Err: err}
		}
	}
	b.bandwidths(md.Bandwidth)
	b.finish()
	return &b.d, nil
}

func (b *descBuilder) formats(fmts []string) error {
	b.d.PayloadTypes = make([]PayloadType, 0, len(fmts))
	for _, f := range fmts {
		id, err := parsePT(f)
		if err != nil {
			return err
		}
		b.d.PayloadTypes = append(b.d.PayloadTypes, PayloadType{ID: id})
	}
	return nil
}

func parsePT(s string) (uint8, error) {
	v, err := parseUint(s, 8, "payload type")
	if err == nil && v > 127 {
		err = fmt.Errorf("%w: payload type %d over 127", ErrBadSDP, v)
	}
	return uint8(v), err
}

// pt returns the payload type with the given id, or nil if the m-line does
// not list it (such attributes are ignored).
func (b *descBuilder) pt(id uint8) *PayloadType {
	for k := range b.d.PayloadTypes {
		if b.d.PayloadTypes[k].ID == id {
			return &b.d.PayloadTypes[k]
		}
	}
	return nil
}

func (b *descBuilder) attr(a sdp.Attribute) error {
	switch a.Key {
	case "rtpmap":
		return b.rtpmap(a.Value)
	case "fmtp":
		return b.fmtp(a.Value)
	case "rtcp-fb":
		return b.rtcpFB(a.Value)
	case "extmap":
		return b.extmap(a.Value)
	case "ssrc":
		return b.ssrc(a.Value)
	case "ssrc-group":
		return b.ssrcGroup(a.Value)
	case "crypto":
		return b.crypto(a.Value)
	case "ptime", "maxptime":
		return b.ptimes(a.Key, a.Value)
	case "rtcp-mux":
		b.d.RTCPMux = true
	case "extmap-allow-mixed":
		b.d.ExtmapAllowMixed = true
	case "msid":
		b.msid = a.Value
	}
	return nil
}

// ptArg splits "<pt> rest" and returns the payload type (nil if unlisted).
func (b *descBuilder) ptArg(v string) (*PayloadType, string, error) {
	ids, rest, _ := strings.Cut(v, " ")
	id, err := parsePT(ids)
	if err != nil {
		return nil, "", err
	}
	return b.pt(id), strings.TrimSpace(rest), nil
}

// rtpmap: "<pt> <name>/<clock>[/<channels>]".
func (b *descBuilder) rtpmap(v string) error {
	p, enc, err := b.ptArg(v)
	if err != nil || p == nil {
		return err
	}
	parts := strings.Split(enc, "/")
	if len(parts) > 3 || !isToken(parts[0], 64) {
		return fmt.Errorf("%w: want \"pt name/clock[/channels]\"", ErrBadSDP)
	}
	p.Name = parts[0]
	if len(parts) == 1 { // no clock rate: filled from RFC 3551 if static
		return nil
	}
	clock, err := parseUint(parts[1], 32, "clock rate")
	if err != nil {
		return err
	}
	p.Clockrate = uint32(clock)
	if len(parts) == 3 {
		ch, err := parseUint(parts[2], 8, "channels")
		p.Channels = uint8(ch)
		return err
	}
	return nil
}

// fmtp: "<pt> k=v;k=v;token"; a token without '=' gets an empty name.
func (b *descBuilder) fmtp(v string) error {
	p, params, err := b.ptArg(v)
	if err != nil || p == nil {
		return err
	}
	for _, kv := range strings.Split(params, ";") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			k, val = "", kv
		}
		p.Parameters = append(p.Parameters, Parameter{Name: k, Value: val})
	}
	return nil
}

// rtcp-fb: "<pt|*> <type> [<subtype>] [tokens...]" or "<pt|*> trr-int <n>".
func (b *descBuilder) rtcpFB(v string) error {
	f := strings.Fields(v)
	if len(f) < 2 {
		return fmt.Errorf("%w: want \"pt type [subtype]\"", ErrBadSDP)
	}
	fb, trr, isTrr, err := parseFeedback(f[1:])
	if err != nil {
		return err
	}
	if f[0] == "*" {
		b.d.addFeedback(fb, trr, isTrr)
		return nil
	}
	id, err := parsePT(f[0])
	if err != nil {
		return err
	}
	if p := b.pt(id); p != nil {
		p.addFeedback(fb, trr, isTrr)
	}
	return nil
}

func parseFeedback(f []string) (RTCPFeedback, RTCPFbTrrInt, bool, error) {
	if f[0] == "trr-int" {
		if len(f) != 2 {
			return RTCPFeedback{}, RTCPFbTrrInt{}, true, fmt.Errorf("%w: want \"trr-int n\"", ErrBadSDP)
		}
		n, err := parseUint(f[1], 32, "trr-int")
		return RTCPFeedback{}, RTCPFbTrrInt{Value: uint32(n)}, true, err
	}
	fb := RTCPFeedback{Type: f[0]}
	if len(f) > 1 {
		fb.Subtype = f[1]
	}
	for _, tok := range f[min(len(f), 2):] {
		fb.Parameters = append(fb.Parameters, Parameter{Name: tok})
	}
	return fb, RTCPFbTrrInt{}, false, nil
}

func (d *Description) addFeedback(fb RTCPFeedback, trr RTCPFbTrrInt, isTrr bool) {
	if isTrr {
		d.RTCPFbTrrInt = append(d.RTCPFbTrrInt, trr)
		return
	}
	d.RTCPFeedback = append(d.RTCPFeedback, fb)
}

func (p *PayloadType) addFeedback(fb RTCPFeedback, trr RTCPFbTrrInt, isTrr bool) {
	if isTrr {
		p.RTCPFbTrrInt = append(p.RTCPFbTrrInt, trr)
		return
	}
	p.RTCPFeedback = append(p.RTCPFeedback, fb)
}

// extmap: "<id>[/<dir>] <uri> [<attributes>]".
func (b *descBuilder) extmap(v string) error {
	head, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	uri, extra, _ := strings.Cut(strings.TrimSpace(rest), " ")
	ids, dir, hasDir := strings.Cut(head, "/")
	id, err := parseUint(ids, 16, "extmap id")
	if err != nil || uri == "" {
		return orErr(err, fmt.Errorf("%w: want \"id[/dir] uri\"", ErrBadSDP))
	}
	h := HeaderExtension{ID: uint16(id), URI: uri}
	if hasDir {
		if !isDirection(dir) {
			return fmt.Errorf("%w: bad extmap direction %q", ErrBadSDP, clip(dir))
		}
		h.Senders = omitBoth(SendersFromDirection(dir, b.c.author))
		b.c.t.setExtDir(b.name, h.ID, dir, h.Senders)
	}
	if extra = strings.TrimSpace(extra); extra != "" {
		h.Parameters = []Parameter{{Name: extra}}
	}
	b.d.HeaderExtensions = append(b.d.HeaderExtensions, h)
	return nil
}

// ssrc: "<ssrc> <attribute>[:<value>]".
func (b *descBuilder) ssrc(v string) error {
	ids, attr, _ := strings.Cut(v, " ")
	ssrc, err := parseUint(ids, 32, "ssrc")
	if err != nil {
		return err
	}
	name, value, _ := strings.Cut(strings.TrimSpace(attr), ":")
	src := b.source(uint32(ssrc))
	if name != "" {
		src.Parameters = append(src.Parameters, Parameter{Name: name, Value: value})
	}
	return nil
}

func (b *descBuilder) source(ssrc uint32) *Source {
	for k := range b.d.Sources {
		if b.d.Sources[k].SSRC == ssrc {
			return &b.d.Sources[k]
		}
	}
	b.d.Sources = append(b.d.Sources, Source{SSRC: ssrc})
	return &b.d.Sources[len(b.d.Sources)-1]
}

// ssrc-group: "<semantics> <ssrc>...".
func (b *descBuilder) ssrcGroup(v string) error {
	f := strings.Fields(v)
	if len(f) < 2 {
		return fmt.Errorf("%w: want \"semantics ssrc...\"", ErrBadSDP)
	}
	g := SSRCGroup{Semantics: f[0], Sources: make([]SourceRef, 0, len(f)-1)}
	for _, s := range f[1:] {
		n, err := parseUint(s, 32, "ssrc")
		if err != nil {
			return err
		}
		g.Sources = append(g.Sources, SourceRef{SSRC: uint32(n)})
	}
	b.d.SSRCGroups = append(b.d.SSRCGroups, g)
	return nil
}

// crypto: "<tag> <suite> <key-params> [<session-params>]".
func (b *descBuilder) crypto(v string) error {
	f := strings.SplitN(strings.TrimSpace(v), " ", 4)
	if len(f) < 3 {
		return fmt.Errorf("%w: want \"tag suite key-params\"", ErrBadSDP)
	}
	c := Crypto{Tag: f[0], CryptoSuite: f[1], KeyParams: f[2]}
	if len(f) == 4 {
		c.SessionParams = strings.TrimSpace(f[3])
	}
	if b.d.Encryption == nil {
		b.d.Encryption = &Encryption{}
	}
	b.d.Encryption.Crypto = append(b.d.Encryption.Crypto, c)
	return nil
}

func (b *descBuilder) ptimes(key, v string) error {
	n, err := parseUint(strings.TrimSpace(v), 32, key)
	if key == "ptime" {
		b.ptime = uint32(n)
	} else {
		b.maxptime = uint32(n)
	}
	return err
}

func (b *descBuilder) bandwidths(bws []sdp.Bandwidth) {
	for _, bw := range bws {
		t := bw.Type
		if bw.Experimental {
			t = "X-" + t
		}
		b.d.Bandwidths = append(b.d.Bandwidths, Bandwidth{Type: t, Value: bw.Bandwidth})
	}
}

// finish applies media-level ptime/maxptime to every payload type, fills
// static payload types from RFC 3551 and folds a=msid into every source.
func (b *descBuilder) finish() {
	for k := range b.d.PayloadTypes {
		p := &b.d.PayloadTypes[k]
		p.fillStatic()
		p.Ptime, p.Maxptime = b.ptime, b.maxptime
	}
	if b.msid == "" {
		return
	}
	for k := range b.d.Sources {
		if _, ok := b.d.Sources[k].Param("msid"); !ok {
			b.d.Sources[k].Parameters = append(b.d.Sources[k].Parameters, Parameter{Name: "msid", Value: b.msid})
		}
	}
}

func orErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
