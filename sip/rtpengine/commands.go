package rtpengine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Options are the media flags of an offer or answer: what rtpengine makes
// of the SDP it passes on.
type Options struct {
	TransportProtocol string   // "RTP/AVP", "UDP/TLS/RTP/SAVPF"
	ICE               string   // "remove", "force"
	DTLS              string   // "off", "passive", "active" ("" leaves rtpengine's choice)
	RTCPMux           []string // "demux", "offer", "require", "accept"
	SDES              []string // "off"
	Replace           []string // "origin", "session-connection"
	Flags             []string // "generate-mid", "inject-DTMF", "trust-address", ...
}

// ToPlain is for SDP that rtpengine passes to a plain-RTP SIP peer:
// RTP/AVP, no ICE, no DTLS, RTCP on its own port.
func ToPlain() Options {
	return Options{TransportProtocol: "RTP/AVP", ICE: "remove", DTLS: "off",
		RTCPMux: []string{"demux"}, SDES: []string{"off"},
		Replace: []string{"origin", "session-connection"},
		Flags:   []string{"trust-address"}}
}

// ToWebRTC is for SDP that rtpengine passes to a WebRTC peer: ICE and
// DTLS-SRTP forced, RTCP multiplexed, a=mid generated when missing.
// rtpengine always takes the passive DTLS role, so the WebRTC peer is the
// DTLS client in every offer and answer of a call: a re-offer in the other
// direction (hold from the phone) never asks it to switch roles, which
// would need a new handshake that WebRTC stacks do not start.
func ToWebRTC() Options {
	return Options{TransportProtocol: "UDP/TLS/RTP/SAVPF", ICE: "force", DTLS: "passive",
		RTCPMux: []string{"offer", "require"}, SDES: []string{"off"},
		Replace: []string{"origin", "session-connection"},
		Flags:   []string{"trust-address", "generate-mid"}}
}

func (o Options) apply(d Dict) {
	if o.TransportProtocol != "" {
		d["transport-protocol"] = o.TransportProtocol
	}
	if o.ICE != "" {
		d["ICE"] = o.ICE
	}
	if o.DTLS != "" {
		d["DTLS"] = o.DTLS
	}
	if len(o.RTCPMux) > 0 {
		d["rtcp-mux"] = o.RTCPMux
	}
	if len(o.SDES) > 0 {
		d["SDES"] = o.SDES
	}
	if len(o.Replace) > 0 {
		d["replace"] = o.Replace
	}
	if len(o.Flags) > 0 {
		d["flags"] = o.Flags
	}
}

// Offer passes an SDP offer of the party fromTag through rtpengine and
// returns the SDP to send on. toTag names the other party of a re-offer
// ("" for a call's first offer).
func (c *Client) Offer(ctx context.Context, callID, fromTag, toTag string, sdp []byte, o Options) ([]byte, error) {
	req := Dict{"command": "offer", "call-id": callID, "from-tag": fromTag, "sdp": string(sdp)}
	if toTag != "" {
		req["to-tag"] = toTag
	}
	o.apply(req)
	return c.sdp(ctx, callID, req)
}

// Answer passes the SDP answer of the party toTag (to fromTag's offer)
// through rtpengine and returns the SDP to send on.
func (c *Client) Answer(ctx context.Context, callID, fromTag, toTag string, sdp []byte, o Options) ([]byte, error) {
	req := Dict{"command": "answer", "call-id": callID, "from-tag": fromTag, "to-tag": toTag, "sdp": string(sdp)}
	o.apply(req)
	return c.sdp(ctx, callID, req)
}

func (c *Client) sdp(ctx context.Context, callID string, req Dict) ([]byte, error) {
	reply, err := c.Do(ctx, callID, req)
	if err != nil {
		return nil, err
	}
	s := reply.Str("sdp")
	if s == "" {
		return nil, fmt.Errorf("rtpengine %s: reply without sdp", req.Str("command"))
	}
	return []byte(s), nil
}

// ErrNotFound wraps a delete or query for a call rtpengine does not know.
var ErrNotFound = errors.New("call not found")

// Delete ends callID's session (every party). A call rtpengine no longer
// knows is ErrNotFound.
func (c *Client) Delete(ctx context.Context, callID string) error {
	reply, err := c.Do(ctx, callID, Dict{"command": "delete", "call-id": callID})
	if !errors.Is(err, ErrUnavailable) {
		c.forget(callID)
	}
	return deleted(reply, err)
}

// deleted maps rtpengine's answer to a delete of an unknown call (result
// ok, warning "Call-ID not found ...") to ErrNotFound.
func deleted(reply Dict, err error) error {
	if err == nil && strings.Contains(strings.ToLower(reply.Str("warning")), "not found") {
		return fmt.Errorf("%w: %s", ErrNotFound, reply.Str("warning"))
	}
	return notFound(err)
}

// Query returns rtpengine's view of callID (its "totals", "tags", ...).
func (c *Client) Query(ctx context.Context, callID string) (Dict, error) {
	reply, err := c.Do(ctx, callID, Dict{"command": "query", "call-id": callID})
	return reply, notFound(err)
}

func notFound(err error) error {
	if err != nil && errors.Is(err, ErrRefused) && strings.Contains(strings.ToLower(err.Error()), "unknown call") {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// List returns the call-ids every healthy instance holds, by ng address
// (at most limit per instance).
func (c *Client) List(ctx context.Context, limit int) (map[string][]string, error) {
	out := map[string][]string{}
	var first error
	for _, i := range c.insts {
		if !i.healthy() {
			continue
		}
		reply, err := c.do(ctx, i, Dict{"command": "list", "limit": limit})
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		out[i.conn.addr] = reply.Strings("calls")
	}
	return out, first
}

// DeleteAt deletes callID at the instance addr (the sweep's delete for a
// session no call owns, which may sit on any instance).
func (c *Client) DeleteAt(ctx context.Context, addr, callID string) error {
	for _, i := range c.insts {
		if i.conn.addr == addr {
			reply, err := c.do(ctx, i, Dict{"command": "delete", "call-id": callID})
			c.forget(callID)
			return deleted(reply, err)
		}
	}
	return fmt.Errorf("rtpengine: no instance %s", addr)
}

// PlayDTMF injects one DTMF digit (0-9, *, #, A-D) into the media the party
// fromTag sends, for durationMS milliseconds: as an RFC 4733
// telephone-event where the receiver negotiated one, else as an in-band
// tone. The call must have been offered and answered with the inject-DTMF
// flag (Options.Flags).
func (c *Client) PlayDTMF(ctx context.Context, callID, fromTag string, digit rune, durationMS int) error {
	if !strings.ContainsRune("0123456789*#ABCD", digit) {
		return fmt.Errorf("rtpengine: bad DTMF digit %q", digit)
	}
	_, err := c.Do(ctx, callID, Dict{"command": "play DTMF", "call-id": callID, "from-tag": fromTag,
		"code": string(digit), "duration": durationMS})
	return err
}
