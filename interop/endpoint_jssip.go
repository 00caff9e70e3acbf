package interop

import (
	"context"
	"errors"
)

// jssipAgent is a SIP party played by JsSIP in headless Chromium
// (testdata/clients/jssip_agent.js): a SIP-over-WebSocket UA (RFC 7118) on
// the gateway's SIP WebSocket listener, logged in as a digest user of the
// gateway. It registers (when the gateway has a registrar) and is called
// at sip:<user>@<realm>; as a caller it INVITEs sip:<escaped
// target>@<gateway>. Its media end is Chromium's RTCPeerConnection.
type jssipAgent struct {
	*chromiumAgent
	address string
}

func newJsSIPAgent(ctx context.Context, o agentOptions) (Agent, error) {
	d := o.dep.SIP
	if d == nil || d.JsSIPUser == nil || o.dep.Clients == nil {
		return nil, errors.New("interop: no SIP WebSocket listener, digest account or bundled JsSIP")
	}
	acc := d.JsSIPUser
	address := "sip:" + acc.User + "@" + d.Realm
	audio, video, _ := o.media.Kinds()
	opts := map[string]any{"ws": d.WS, "uri": address, "user": acc.User, "password": acc.Password,
		"register": d.Registrar, "gateway": sipHostPort(d.Gateway), "address": address,
		"media": map[string]bool{"audio": audio, "video": video}}
	a, err := startPageAgent(ctx, o, o.dep.Clients.JsSIP, opts)
	if err != nil {
		return nil, err
	}
	return &jssipAgent{chromiumAgent: a, address: address}, nil
}

// Address implements Agent: the registered AOR.
func (a *jssipAgent) Address() string { return a.address }
