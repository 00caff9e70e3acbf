package sip

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/rtpengine"
)

// Media anchoring (sip/README.md, "Media through rtpengine"). An anchored
// leg's SDP passes through rtpengine both ways: what goes to the SIP peer
// is plain RTP (RTP/AVP, no ICE, no DTLS, RTCP on its own port), what goes
// to the call (a browser or Jingle client) is WebRTC (ICE and DTLS-SRTP
// forced, rtcp-mux). Each anchored leg is one rtpengine call with two
// parties: tagWeb (the call's side) and tagSIP (the SIP peer).

const (
	tagWeb = "web"
	tagSIP = "sip"
)

// errAnchor wraps every failure of rtpengine on a call.
var errAnchor = errors.New("media relay unavailable")

// anchors is the adapter's rtpengine client and the rtpengine call-ids
// its live legs own (the sweep deletes any other session of ours).
type anchors struct {
	rtp    *rtpengine.Client
	m      *rtpengine.Metrics
	prefix string // "sigbridge-<random>-": this process's call-ids
	cfg    RTPEngineConfig

	mu    sync.Mutex
	owned map[string]struct{}
}

func newAnchors(cfg RTPEngineConfig, a *Adapter, m *rtpengine.Metrics) (*anchors, error) {
	rtp, err := rtpengine.New(rtpengine.Config{NG: cfg.NG, Timeout: cfg.Timeout, PingInterval: cfg.PingInterval,
		Logger: a.log.With("component", "rtpengine"), Metrics: m})
	if err != nil {
		return nil, fmt.Errorf("%w: rtpengine: %w", ErrConfig, err)
	}
	return &anchors{rtp: rtp, m: m, cfg: cfg, prefix: "sigbridge-" + hex.EncodeToString(randomBytes(6)) + "-",
		owned: map[string]struct{}{}}, nil
}

// anchor is one leg's rtpengine call.
type anchor struct {
	set         *anchors
	callID      string
	timeout     time.Duration
	established bool // an answer went through: offers name both parties
}

// newAnchor claims a fresh call-id before any offer names it, so the sweep
// never deletes a session that is being set up.
func (s *anchors) newAnchor() *anchor {
	id := s.prefix + hex.EncodeToString(randomBytes(10))
	s.mu.Lock()
	s.owned[id] = struct{}{}
	s.mu.Unlock()
	s.m.Anchored(1)
	return &anchor{set: s, callID: id, timeout: s.cfg.Timeout}
}

func (s *anchors) owns(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.owned[id]
	return ok
}

// close deletes the rtpengine call (every end of an anchored leg) and
// drops its ownership. A delete that fails leaves the session to the sweep
// (or to rtpengine's own media timeout).
func (x *anchor) close(log interface{ Info(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*x.timeout)
	defer cancel()
	err := x.set.rtp.Delete(ctx, x.callID)
	if err != nil && !errors.Is(err, rtpengine.ErrNotFound) {
		log.Info("rtpengine delete failed; the sweep retries", "rtpengine-call", x.callID, "err", err)
	}
	x.set.mu.Lock()
	delete(x.set.owned, x.callID)
	x.set.mu.Unlock()
	x.set.m.Anchored(-1)
}

// toSIP passes an offer (offer true) or answer of the call's side through
// rtpengine and returns the plain-RTP SDP for the SIP peer.
func (x *anchor) toSIP(ctx context.Context, sd *sdp.SessionDescription, offer bool) (*sdp.SessionDescription, error) {
	sd = withDefaultAddress(sd)
	if offer {
		return x.do(ctx, "offer", tagWeb, tagSIP, sd, rtpengine.ToPlain())
	}
	return x.do(ctx, "answer", tagSIP, tagWeb, withoutGroup(sd), rtpengine.ToPlain())
}

// toWeb passes an offer or answer of the SIP peer through rtpengine and
// returns the WebRTC SDP for the call.
func (x *anchor) toWeb(ctx context.Context, sd *sdp.SessionDescription, offer bool) (*sdp.SessionDescription, error) {
	if offer {
		web, err := x.do(ctx, "offer", tagSIP, tagWeb, sd, rtpengine.ToWebRTC())
		if err == nil {
			bundleSingle(web)
		}
		return web, err
	}
	return x.do(ctx, "answer", tagWeb, tagSIP, sd, rtpengine.ToWebRTC())
}

// withDefaultAddress is sd with every live m-line whose c= is 0.0.0.0 (or
// missing) given the address and port of its best UDP candidate for
// component 1. WebRTC stacks that write "c=IN IP4 0.0.0.0" and port 9 into
// a re-offer (pion always; the gateway's half trickle fixes initial offers
// only) would otherwise read as an RFC 2543 hold to rtpengine, which then
// offers the SIP peer sendonly media at 0.0.0.0.
func withDefaultAddress(sd *sdp.SessionDescription) *sdp.SessionDescription {
	c := *sd
	c.MediaDescriptions = make([]*sdp.MediaDescription, len(sd.MediaDescriptions))
	for i, m := range sd.MediaDescriptions {
		c.MediaDescriptions[i] = m
		if m.MediaName.Port.Value == 0 || !zeroAddress(sd, m) {
			continue
		}
		best, ok := gateway.ICECandidate{}, false
		for _, a := range m.Attributes {
			if a.Key != "candidate" {
				continue
			}
			cand, err := gateway.ParseCandidate(a.Value)
			if err == nil && cand.Component == 1 && cand.Protocol == "udp" && (!ok || cand.Priority > best.Priority) {
				best, ok = cand, true
			}
		}
		if !ok {
			continue
		}
		mc := *m
		mc.MediaName.Port = sdp.RangedPort{Value: best.Port}
		addrType := "IP4"
		if strings.Contains(best.Address, ":") {
			addrType = "IP6"
		}
		mc.ConnectionInformation = &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType,
			Address: &sdp.Address{Address: best.Address}}
		c.MediaDescriptions[i] = &mc
	}
	return &c
}

func zeroAddress(sd *sdp.SessionDescription, m *sdp.MediaDescription) bool {
	ci := m.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	return ci == nil || ci.Address == nil || ci.Address.Address == "0.0.0.0" || ci.Address.Address == "::"
}

// withoutGroup is sd without session-level a=group lines (see bundleSingle).
func withoutGroup(sd *sdp.SessionDescription) *sdp.SessionDescription {
	c := *sd
	c.Attributes = nil
	for _, a := range sd.Attributes {
		if a.Key != "group" {
			c.Attributes = append(c.Attributes, a)
		}
	}
	return &c
}

// bundleSingle adds "a=group:BUNDLE <mid>" to an offer toward WebRTC with
// one live m-line and no group: rtpengine 10.5 writes none, and WebRTC
// stacks that require a BUNDLE group in offers (pion answers every m-line
// outside the group with port 0) then refuse the call; a group of one
// changes nothing on the wire. Offers with several m-lines keep one
// transport each, as rtpengine set them up.
func bundleSingle(sd *sdp.SessionDescription) {
	if _, ok := sd.Attribute("group"); ok {
		return
	}
	var mid string
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		v, ok := m.Attribute("mid")
		if !ok || mid != "" {
			return
		}
		mid = v
	}
	if mid != "" {
		sd.Attributes = append(sd.Attributes, sdp.Attribute{Key: "group", Value: "BUNDLE " + mid})
	}
}

// do runs one offer (from is the offerer, to the other party) or answer
// (from is the offerer, to the answerer whose SDP this is).
func (x *anchor) do(ctx context.Context, cmd, from, to string, sd *sdp.SessionDescription, o rtpengine.Options) (*sdp.SessionDescription, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*x.timeout)
	defer cancel()
	if x.set.cfg.InjectDTMF {
		o.Flags = append(o.Flags, "inject-DTMF")
	}
	body := sdpBytes(sd)
	var out []byte
	var err error
	if cmd == "offer" {
		if !x.established {
			to = ""
		}
		out, err = x.set.rtp.Offer(ctx, x.callID, from, to, body, o)
	} else {
		out, err = x.set.rtp.Answer(ctx, x.callID, from, to, body, o)
		x.established = x.established || err == nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errAnchor, cmd, err)
	}
	res, err := gateway.ParseSDPString(string(out)) // a new string: parsed without another copy
	if err != nil {
		return nil, fmt.Errorf("%w: %s: rtpengine's SDP: %w", errAnchor, cmd, err)
	}
	if x.set.cfg.InjectDTMF {
		stripSSRC(res)
	}
	return res, nil
}

// stripSSRC removes a=ssrc and a=ssrc-group: with inject-DTMF rtpengine
// re-encodes the audio under SSRCs of its own, so the ones the other side
// declared would name streams that never arrive (and a receiver that
// trusts them drops the real ones).
func stripSSRC(sd *sdp.SessionDescription) {
	for _, m := range sd.MediaDescriptions {
		kept := m.Attributes[:0]
		for _, a := range m.Attributes {
			if a.Key != "ssrc" && a.Key != "ssrc-group" {
				kept = append(kept, a)
			}
		}
		m.Attributes = kept
	}
}

// playDTMF injects one digit into the media the call's side sends.
func (x *anchor) playDTMF(ctx context.Context, digit string, d time.Duration) error {
	ms := min(max(int(d.Milliseconds()), 100), 5000) // rtpengine's bounds
	return x.set.rtp.PlayDTMF(ctx, x.callID, tagWeb, rune(digit[0]), ms)
}

// reasonAnchor is the reason a call ends with when rtpengine fails it.
var reasonAnchor = gateway.Reason{Condition: gateway.CondConnectivityError, Code: 503, Text: "media relay unavailable"}

// checkPlain accepts an SDP from a SIP peer of an anchored call: at least
// one live m-line (ICE and DTLS are optional: rtpengine takes either).
func checkPlain(sd *sdp.SessionDescription) error {
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Port.Value != 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: no usable media stream", gateway.ErrBadSDP)
}

// isPlainRTP reports an SDP whose live m-lines are all RTP/AVP or RTP/AVPF
// without ICE: what a phone or trunk without WebRTC offers.
func isPlainRTP(sd *sdp.SessionDescription) bool {
	live := 0
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		live++
		p := strings.ToUpper(strings.Join(m.MediaName.Protos, "/"))
		if p != "RTP/AVP" && p != "RTP/AVPF" {
			return false
		}
	}
	return live > 0
}

// sweepLoop deletes, every SweepInterval, the rtpengine sessions of this
// process that no live leg owns (a delete lost while rtpengine was down).
func (s *anchors) sweepLoop(ctx context.Context, log interface {
	Info(string, ...any)
	Debug(string, ...any)
}) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep(ctx, log)
		}
	}
}

// sweepLimit bounds one list per instance.
const sweepLimit = 100000

// sweep runs one check; it returns how many sessions it deleted.
func (s *anchors) sweep(ctx context.Context, log interface {
	Info(string, ...any)
	Debug(string, ...any)
}) int {
	lctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout)
	lists, err := s.rtp.List(lctx, sweepLimit)
	cancel()
	if err != nil {
		log.Debug("rtpengine list failed", "err", err)
	}
	n := 0
	for addr, ids := range lists {
		for _, id := range ids {
			if !strings.HasPrefix(id, s.prefix) || s.owns(id) {
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout)
			err := s.rtp.DeleteAt(dctx, addr, id)
			cancel()
			if err == nil {
				n++
				log.Info("rtpengine session without a call deleted", "ng", addr, "rtpengine-call", id)
			}
		}
	}
	return n
}

// checkRemote checks an SDP from the SIP peer: WebRTC unless the leg is
// anchored, where anything with live media goes to rtpengine.
func (l *legCore) checkRemote(sd *sdp.SessionDescription) error {
	if l.anchor != nil {
		return checkPlain(sd)
	}
	return checkWebRTC(sd)
}
