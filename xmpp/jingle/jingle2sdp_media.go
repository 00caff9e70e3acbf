package jingle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// mediaWriter accumulates the attributes of one m-line.
type mediaWriter struct {
	attrs []sdp.Attribute
}

func (w *mediaWriter) add(key, value string) {
	w.attrs = append(w.attrs, sdp.Attribute{Key: key, Value: value})
}

func (c *jingleConv) rtpMedia(slot Slot, content *Content) (*sdp.MediaDescription, error) {
	d := content.Description
	w := &mediaWriter{attrs: make([]sdp.Attribute, 0, 16+8*len(d.PayloadTypes))}
	if err := c.transportLines(w, content.Transport); err != nil {
		return nil, err
	}
	w.add("mid", slot.Mid)
	c.extmapLines(w, slot.Name, d)
	if bool(d.ExtmapAllowMixed) && !c.allowMixed {
		w.add("extmap-allow-mixed", "")
	}
	w.add(DirectionFromSenders(content.Senders, c.author), "")
	if msid := firstMsid(d.Sources); msid != "" {
		w.add("msid", msid)
	}
	w.add("rtcp-mux", "")
	payloadLines(w, d)
	sourceLines(w, d)
	return &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media: d.Media, Port: sdp.RangedPort{Value: 9},
			Protos: strings.Split(rtpProto(content), "/"), Formats: formats(d.PayloadTypes),
		},
		ConnectionInformation: zeroConnection(),
		Bandwidth:             bandwidths(d.Bandwidths),
		Attributes:            w.attrs,
	}, nil
}

func (c *jingleConv) dataMedia(slot Slot, content *Content) (*sdp.MediaDescription, error) {
	w := &mediaWriter{}
	if err := c.transportLines(w, content.Transport); err != nil {
		return nil, err
	}
	w.add("mid", slot.Mid)
	port := uint16(5000)
	if tr := content.Transport; tr != nil && tr.SCTPMap != nil && tr.SCTPMap.SCTPPort() != 0 {
		port = tr.SCTPMap.SCTPPort()
	}
	w.add("sctp-port", strconv.Itoa(int(port)))
	w.add("max-message-size", "262144")
	return &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media: "application", Port: sdp.RangedPort{Value: 9},
			Protos: []string{"UDP", "DTLS", "SCTP"}, Formats: []string{"webrtc-datachannel"},
		},
		ConnectionInformation: zeroConnection(),
		Attributes:            w.attrs,
	}, nil
}

// rtpProto derives the proto (protocols.md §2.3): fingerprint ->
// UDP/TLS/RTP/SAVPF, crypto -> RTP/SAVP(F), rtcp-fb -> RTP/AVPF, else RTP/AVP.
func rtpProto(content *Content) string {
	d := content.Description
	fb := hasFeedback(d)
	switch {
	case content.Transport != nil && len(content.Transport.Fingerprints) > 0:
		return "UDP/TLS/RTP/SAVPF"
	case d.Encryption != nil && len(d.Encryption.Crypto) > 0 && fb:
		return "RTP/SAVPF"
	case d.Encryption != nil && len(d.Encryption.Crypto) > 0:
		return "RTP/SAVP"
	case fb:
		return "RTP/AVPF"
	}
	return "RTP/AVP"
}

func hasFeedback(d *Description) bool {
	if len(d.RTCPFeedback) > 0 || len(d.RTCPFbTrrInt) > 0 {
		return true
	}
	for _, p := range d.PayloadTypes {
		if len(p.RTCPFeedback) > 0 || len(p.RTCPFbTrrInt) > 0 {
			return true
		}
	}
	return false
}

func formats(pts []PayloadType) []string {
	out := make([]string, len(pts))
	for k, p := range pts {
		out[k] = strconv.Itoa(int(p.ID))
	}
	return out
}

func bandwidths(in []Bandwidth) []sdp.Bandwidth {
	var out []sdp.Bandwidth
	for _, b := range in {
		t, exp := strings.CutPrefix(b.Type, "X-")
		if isToken(t, 32) {
			out = append(out, sdp.Bandwidth{Experimental: exp, Type: t, Bandwidth: b.Value})
		}
	}
	return out
}

// transportLines writes candidates, ICE credentials, ice-options,
// fingerprints and setup.
func (c *jingleConv) transportLines(w *mediaWriter, tr *Transport) error {
	if tr == nil {
		return nil
	}
	if err := checkCredentials(tr); err != nil {
		return err
	}
	for _, cand := range tr.Candidates {
		if c.opt.DropMDNS && cand.IsMDNS() {
			continue
		}
		if err := cand.Validate(); err != nil {
			return fmt.Errorf("%w: candidate %q: %w", ErrBadCandidate, clip(cand.ID), err)
		}
		w.add("candidate", strings.TrimPrefix(cand.SDPLine(tr.Ufrag), "candidate:"))
	}
	if tr.Ufrag != "" {
		w.add("ice-ufrag", tr.Ufrag)
		w.add("ice-pwd", tr.Pwd)
		w.add("ice-options", "trickle")
	}
	return c.fingerprintLines(w, tr.Fingerprints)
}

func checkCredentials(tr *Transport) error {
	if tr.Ufrag != "" && !isToken(tr.Ufrag, 256) || tr.Pwd != "" && !isToken(tr.Pwd, 256) {
		return fmt.Errorf("%w: bad ufrag or pwd", ErrBadJingle)
	}
	return nil
}

// fingerprintLines writes one a=fingerprint per fingerprint and one a=setup
// from the first setup found (default: actpass for the initiator, active
// for the responder).
func (c *jingleConv) fingerprintLines(w *mediaWriter, fps []Fingerprint) error {
	setup := ""
	for _, fp := range fps {
		v := strings.TrimSpace(fp.Value)
		if !isToken(fp.Hash, 32) || !isToken(v, 1024) {
			return fmt.Errorf("%w: bad fingerprint", ErrBadJingle)
		}
		w.add("fingerprint", fp.Hash+" "+v)
		setup = orStr(setup, fp.Setup)
	}
	if len(fps) == 0 {
		return nil
	}
	if setup == "" {
		setup = SetupActpass
		if c.author == Responder {
			setup = SetupActive
		}
	}
	if !isToken(setup, 16) {
		return fmt.Errorf("%w: bad setup %q", ErrBadJingle, clip(setup))
	}
	w.add("setup", setup)
	return nil
}

// extmapLines writes a=extmap with the direction suffix: the raw one seen
// in this session if it maps to the same senders, else from table §2.5 a.
func (c *jingleConv) extmapLines(w *mediaWriter, name string, d *Description) {
	for _, h := range d.HeaderExtensions {
		id := strconv.Itoa(int(h.ID))
		if raw, ok := c.t.rawExtDir(name, h.ID, h.Senders); ok {
			id += "/" + raw
		} else if s := omitBoth(h.Senders); s != "" {
			id += "/" + DirectionFromSenders(s, c.author)
		}
		v := id + " " + h.URI
		for _, p := range h.Parameters {
			v += " " + joinKV(p.Name, p.Value, "=")
		}
		w.add("extmap", v)
	}
}

func joinKV(k, v, sep string) string {
	switch {
	case k == "":
		return v
	case v == "":
		return k
	}
	return k + sep + v
}

func firstMsid(srcs []Source) string {
	if len(srcs) == 0 {
		return ""
	}
	v, _ := srcs[0].Param("msid")
	return v
}

// payloadLines writes, per payload type, rtpmap, rtcp-fb and fmtp (the
// Chrome order), then ptime/maxptime, the wildcard rtcp-fb and crypto.
func payloadLines(w *mediaWriter, d *Description) {
	var ptime, maxptime uint32
	for _, p := range d.PayloadTypes {
		p.fillStatic()
		id := strconv.Itoa(int(p.ID))
		if p.Name != "" {
			w.add("rtpmap", id+" "+rtpmapValue(p))
		}
		feedbackLines(w, id, p.RTCPFeedback, p.RTCPFbTrrInt)
		if len(p.Parameters) > 0 {
			w.add("fmtp", id+" "+fmtpValue(p.Parameters))
		}
		ptime, maxptime = max(ptime, p.Ptime), max(maxptime, p.Maxptime)
	}
	if ptime > 0 {
		w.add("ptime", strconv.FormatUint(uint64(ptime), 10))
	}
	if maxptime > 0 {
		w.add("maxptime", strconv.FormatUint(uint64(maxptime), 10))
	}
	feedbackLines(w, "*", d.RTCPFeedback, d.RTCPFbTrrInt)
	cryptoLines(w, d.Encryption)
}

func rtpmapValue(p PayloadType) string {
	v := p.Name + "/" + strconv.FormatUint(uint64(p.Clockrate), 10)
	if p.Channels != 0 {
		v += "/" + strconv.Itoa(int(p.Channels))
	}
	return v
}

func fmtpValue(params []Parameter) string {
	parts := make([]string, len(params))
	for k, p := range params {
		parts[k] = p.Value
		if p.Name != "" {
			parts[k] = p.Name + "=" + p.Value
		}
	}
	return strings.Join(parts, ";")
}

func feedbackLines(w *mediaWriter, id string, fbs []RTCPFeedback, trr []RTCPFbTrrInt) {
	for _, fb := range fbs {
		v := id + " " + fb.Type
		if fb.Subtype != "" {
			v += " " + fb.Subtype
		}
		for _, p := range fb.Parameters {
			v += " " + joinKV(p.Name, p.Value, "=")
		}
		w.add("rtcp-fb", v)
	}
	for _, t := range trr {
		w.add("rtcp-fb", id+" trr-int "+strconv.FormatUint(uint64(t.Value), 10))
	}
}

func cryptoLines(w *mediaWriter, e *Encryption) {
	if e == nil {
		return
	}
	for _, c := range e.Crypto {
		v := c.Tag + " " + c.CryptoSuite + " " + c.KeyParams
		if c.SessionParams != "" {
			v += " " + c.SessionParams
		}
		w.add("crypto", v)
	}
}

// sourceLines writes a=ssrc-group, then a=ssrc per parameter (Chrome order).
func sourceLines(w *mediaWriter, d *Description) {
	for _, g := range d.SSRCGroups {
		v := g.Semantics
		for _, s := range g.Sources {
			v += " " + strconv.FormatUint(uint64(s.SSRC), 10)
		}
		w.add("ssrc-group", v)
	}
	for _, s := range d.Sources {
		id := strconv.FormatUint(uint64(s.SSRC), 10)
		for _, p := range s.Parameters {
			w.add("ssrc", id+" "+joinKV(p.Name, p.Value, ":"))
		}
	}
}
