package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Deployment says how to reach a sigbridge deployment over the wire and
// which real peers the harness may start. A dialect whose address is empty
// is not supported: its scenarios are reported Unsupported.
type Deployment struct {
	// WS is the browser dialect's WebSocket URL (ws://host:port/ws).
	WS string
	// WSNodes are the browser dialect's WebSocket URLs of every node of a
	// cluster; when set they replace WS. Each scenario puts its caller and
	// callee on two different nodes (nodes.go), so calls between browser
	// users cross nodes, and a browser party calling SIP or Jingle (or
	// called from there) lands on a node that is not always the one holding
	// the SIP flow or the XMPP component.
	WSNodes []string
	// SIP reaches the gateway's SIP side; nil: no SIP.
	SIP *SIPDeployment
	// XMPP reaches the gateway's XMPP side; nil: no Jingle.
	XMPP *XMPPDeployment
	// RingTimeout is the deployment's ring timeout: the NoAnswer scenarios
	// wait this long (plus a margin) for the gateway to give up.
	RingTimeout time.Duration
	// VanishTimeout bounds how long the deployment takes to notice a peer
	// that vanished mid-call and hang up the other leg: its SIP
	// dialog_probe_interval + dialog_probe_timeout and its XMPP
	// session_ping_interval + session_ping_timeout, whichever is longer
	// (default 30 s, above sigbridge's defaults of 15 s + 5 s).
	VanishTimeout time.Duration
	// Chromium is the path of a Chromium binary for the Chromium agent
	// ("" disables the Chromium scenarios).
	Chromium string
	// SIPp is the path of the sipp binary ("" disables the SIPp scenarios).
	SIPp string
	// Baresip is the path of the baresip binary ("" disables its scenarios).
	Baresip string
	// Clients are the bundled third-party browser clients (JsSIP,
	// StanzaJS; nil disables their scenarios). See BuildClients.
	Clients *Clients
	// ProbeInterval is the deployment's SIP dialog_probe_interval (default
	// 15 s): a Linger step stays in the call for three of them.
	ProbeInterval time.Duration
	// Log receives the harness's diagnostics; nil discards them.
	Log *slog.Logger
	// Name is shown in reports ("local", a URL).
	Name string
}

// SIPDeployment is the gateway's SIP side as the harness sees it.
type SIPDeployment struct {
	// Gateway is the gateway's SIP URI ("sip:gw.example.org:5060"): where SIP
	// callers send their INVITEs, with the target as the Request-URI user
	// part.
	Gateway string
	// Domain is the host part of the SIP addresses the gateway routes to
	// the harness's SIP callees ("127.0.0.1:5072"): the harness listens
	// there and the deployment must route sip:<user>@Domain to it.
	Domain string
	// Listen is the harness's SIP UA address ("127.0.0.1:5072"), UDP and
	// TCP.
	Listen string
	// SIPpListen is where SIPp callees listen (TCP), when the deployment
	// routes that address over TCP; "" uses Listen (or a free port).
	SIPpListen string
	// WS is the gateway's SIP WebSocket URL (RFC 7118, ws://host:port/sip);
	// "" disables the JsSIP scenarios.
	WS string
	// Realm is the gateway's SIP host or realm: registered users are
	// sip:<user>@Realm.
	Realm string
	// Proxy is where native SIP clients (baresip) register and send their
	// calls ("sip:host:port"), when not Gateway: in a cluster, a node that
	// holds their digest account, while Gateway is the dispatcher in front
	// of the nodes, which takes no REGISTER.
	Proxy string
	// Registrar reports that the gateway accepts REGISTER from its digest
	// users; without it, a native SIP client callee (baresip) is dialled at
	// its own address.
	Registrar bool
	// JsSIPUser and BaresipUser are digest accounts of the gateway
	// (inbound users) for the JsSIP and baresip clients.
	JsSIPUser, BaresipUser *SIPAccount
	// ClientAddr is an address of this host that is not a trusted source of
	// the gateway and not in 127/8 (baresip's ICE skips loopback
	// addresses), such as 10.99.0.1 on lo in a test's network namespace:
	// baresip binds there and the SIP WebSocket listener listens there, so
	// that both must answer the digest challenge. "" disables the baresip
	// scenarios.
	ClientAddr string
	// PlainRTP reports that the deployment anchors media through rtpengine
	// for plain-RTP SIP peers: it takes the harness's plain-RTP offers and
	// routes sip:plainrtp-<user>@Domain with `media: rtpengine`. false
	// leaves the plain-RTP scenarios unsupported.
	PlainRTP bool
}

// proxy is where native SIP clients register and send their calls.
func (d *SIPDeployment) proxy() string {
	if d.Proxy != "" {
		return d.Proxy
	}
	return d.Gateway
}

// SIPAccount is a digest account of the gateway.
type SIPAccount struct {
	User, Password string
}

// XMPPDeployment is the gateway's XMPP side as the harness sees it.
type XMPPDeployment struct {
	// Server is the XMPP server's client-to-server address
	// ("127.0.0.1:5222"; "" for the caller JID's domain, port 5222). A
	// loopback server may be used without TLS; others must offer STARTTLS.
	Server string
	// Domain is the XMPP domain of the harness's users (unknown-target
	// scenarios call a user nobody has there).
	Domain string
	// Component is the gateway's component domain: a Jingle caller calls
	// "<XEP-0106 escaped target>@Component".
	Component string
	// Caller and Callee are the accounts of the harness's Jingle caller and
	// callee.
	Caller, Callee XMPPAccount
	// WebSocket is the XMPP server's RFC 7395 WebSocket URL
	// (ws://127.0.0.1:port/xmpp-websocket) for the StanzaJS clients; ""
	// disables them.
	WebSocket string
}

// Supports reports whether the deployment can run a party.
func (d Deployment) Supports(p Party) error {
	switch {
	case p.Dialect == Browser && len(d.wsURLs()) == 0:
		return errors.New("no WebSocket URL (--ws) for the browser dialect")
	case p.Dialect == SIP && d.SIP == nil:
		return errors.New("no SIP side (--sip) in this deployment")
	case p.Dialect == Jingle && d.XMPP == nil:
		return errors.New("no XMPP side (--xmpp) in this deployment")
	case p.Dialect == Jingle && d.XMPP.Component == "":
		return errors.New("no component domain of the gateway (--xmpp-component)")
	case p.Agent == Chromium && d.Chromium == "":
		return errors.New("no Chromium binary")
	case p.Agent == SIPp && d.SIPp == "":
		return errors.New("no sipp binary")
	case p.Agent == PlainRTP && !d.SIP.PlainRTP:
		return errors.New("no rtpengine configured in this deployment to anchor plain-RTP calls (local: --rtpengine; " +
			"another deployment: --plain-rtp once it anchors them)")
	}
	if err := agentSupported(p); err != nil {
		return err
	}
	return d.supportsThirdParty(p)
}

// supportsThirdParty says what a third-party client needs.
func (d Deployment) supportsThirdParty(p Party) error {
	switch p.Agent {
	case JsSIP, Stanza:
		if d.Chromium == "" {
			return errors.New("no Chromium binary")
		}
		if d.Clients == nil {
			return errors.New("no bundled browser clients (--clients)")
		}
	}
	switch {
	case p.Agent == JsSIP && (d.SIP.WS == "" || d.SIP.JsSIPUser == nil):
		return errors.New("no SIP WebSocket listener with a digest account for JsSIP")
	case p.Agent == Stanza && d.XMPP.WebSocket == "":
		return errors.New("no XMPP WebSocket URL for StanzaJS")
	case p.Agent == Baresip && d.Baresip == "":
		return errors.New("no baresip binary")
	case p.Agent == Baresip && (d.SIP.ClientAddr == "" || d.SIP.BaresipUser == nil):
		return errors.New("no client address outside 127/8 (add one to lo, e.g. 10.99.0.1/32) or no digest account for baresip")
	}
	return nil
}

// agentSupported says which dialect/agent pairs the harness implements.
func agentSupported(p Party) error {
	switch {
	case p.Agent == Chromium && p.Dialect != Browser:
		return fmt.Errorf("chromium speaks only the browser dialect")
	case p.Agent == SIPp && p.Dialect != SIP:
		return fmt.Errorf("sipp speaks only SIP")
	case (p.Agent == JsSIP || p.Agent == Baresip) && p.Dialect != SIP:
		return fmt.Errorf("%s speaks only SIP", p.Agent)
	case p.Agent == Stanza && p.Dialect != Jingle:
		return fmt.Errorf("stanza speaks only Jingle")
	case p.Agent == PlainRTP && p.Dialect != SIP:
		return fmt.Errorf("the plain-RTP agent speaks only SIP")
	}
	return nil
}

func (d Deployment) logger() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

func (d Deployment) ringTimeout() time.Duration {
	if d.RingTimeout <= 0 {
		return 60 * time.Second
	}
	return d.RingTimeout
}

func (d Deployment) probeInterval() time.Duration {
	if d.ProbeInterval <= 0 {
		return 15 * time.Second
	}
	return d.ProbeInterval
}

func (d Deployment) vanishTimeout() time.Duration {
	if d.VanishTimeout <= 0 {
		return DefaultVanishTimeout
	}
	return d.VanishTimeout
}

// DefaultVanishTimeout is the VanishTimeout of a deployment that names
// none.
const DefaultVanishTimeout = 30 * time.Second

// UnknownTarget is an address in the callee's dialect that nobody has.
func (d Deployment) UnknownTarget(p Party) string {
	name := "nobody-" + newToken()
	switch p.Dialect {
	case SIP:
		if d.SIP != nil {
			return "sip:" + name + "@" + d.SIP.Domain
		}
	case Jingle:
		if d.XMPP != nil {
			return "xmpp:" + name + "@" + d.XMPP.Domain
		}
	}
	return name
}

// role is the part an agent plays in a call.
type role int

const (
	roleCaller role = iota
	roleCallee
)

func (r role) String() string {
	if r == roleCaller {
		return "caller"
	}
	return "callee"
}

// agentOptions is what newAgent needs.
type agentOptions struct {
	dep    Deployment
	party  Party
	role   role
	name   string // the user name to log in as
	label  string // written into media (data channel messages)
	media  Media
	expect Outcome // the scenario's outcome (scripted agents pick their script)
	tr     *Transcript
	log    *slog.Logger
}

// newAgent starts the agent of a party.
func newAgent(ctx context.Context, o agentOptions) (Agent, error) {
	switch {
	case o.party.Agent == Chromium:
		return newChromiumAgent(ctx, o)
	case o.party.Agent == JsSIP:
		return newJsSIPAgent(ctx, o)
	case o.party.Agent == Stanza:
		return newStanzaAgent(ctx, o)
	case o.party.Agent == Baresip:
		return newBaresipAgent(ctx, o)
	case o.party.Dialect == Browser:
		return newBrowserAgent(ctx, o)
	case o.party.Dialect == SIP && (o.party.Agent == Pion || o.party.Agent == PlainRTP):
		return newSIPAgent(ctx, o)
	case o.party.Agent == SIPp:
		return newSIPpAgent(ctx, o)
	case o.party.Dialect == Jingle:
		return newJingleAgent(ctx, o)
	}
	return nil, fmt.Errorf("interop: no agent for %s", o.party)
}

// sendTimeout bounds one write to the gateway from a callback.
const sendTimeout = 5 * time.Second
