package interop

import (
	"context"
	"errors"
)

// stanzaAgent is a Jingle party played by StanzaJS in headless Chromium
// (testdata/clients/stanza_agent.js) over XMPP WebSocket to the harness's
// Prosody. StanzaJS has no JMI (XEP-0353): it calls by session-initiate to
// <escaped target>@<component> and is called by session-initiate to its
// full JID (xmpp:user@domain/resource), or, once it shares presence with
// the caller's gateway JID (Party.Subscribe), at its bare JID.
type stanzaAgent struct {
	*chromiumAgent
	full, bare string
	subscribe  bool
	component  string
}

func newStanzaAgent(ctx context.Context, o agentOptions) (Agent, error) {
	x := o.dep.XMPP
	if x == nil || x.WebSocket == "" || o.dep.Clients == nil {
		return nil, errors.New("interop: no XMPP WebSocket or bundled StanzaJS")
	}
	acc := x.Caller
	if o.role == roleCallee {
		acc = x.Callee
	}
	audio, video, _ := o.media.Kinds()
	opts := map[string]any{"ws": x.WebSocket, "jid": acc.JID, "password": acc.Password, "resource": "stanza-" + newToken()[:8],
		"media": map[string]bool{"audio": audio, "video": video}}
	a, err := startPageAgent(ctx, o, o.dep.Clients.Stanza, opts)
	if err != nil {
		return nil, err
	}
	return &stanzaAgent{chromiumAgent: a, full: a.name, bare: acc.JID, subscribe: o.party.Subscribe,
		component: x.Component}, nil
}

// Address implements Agent: the full JID, or the bare JID for a callee
// that shares presence with the caller's gateway JID.
func (a *stanzaAgent) Address() string {
	if a.subscribe {
		return "xmpp:" + a.bare
	}
	return "xmpp:" + a.full
}

// Call implements Agent: session-initiate to the target's JID at the
// gateway's component.
func (a *stanzaAgent) Call(ctx context.Context, target string) error {
	return a.do(ctx, "interopAgent.call("+jsString(escapeJIDLocal(target)+"@"+a.component)+")")
}

// Prepare implements preparer: a Subscribe callee adds the caller's
// gateway JID as a contact and waits until presence is shared.
func (a *stanzaAgent) Prepare(ctx context.Context, caller Agent) error {
	if !a.subscribe {
		return nil
	}
	return a.do(ctx, "interopAgent.subscribe("+jsString(escapeJIDLocal(caller.Address())+"@"+a.component)+")")
}
