package xmpptest

import (
	"bytes"
	"context"
	"crypto/sha1" // #nosec G505 -- XEP-0115 mandates SHA-1 for the caps hash
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// A Client can play a device with capabilities: with Features set (see
// LoginWith) it answers disco#info with them, puts XEP-0115 caps into its
// presence, and may approve subscription requests. That is how Jingle
// clients without JMI (StanzaJS and other web clients) look to a gateway.

// JingleFeatures are the disco#info features of a Jingle RTP client
// without JMI (XEP-0353).
var JingleFeatures = []string{
	"http://jabber.org/protocol/disco#info",
	jingle.NSJingle, jingle.NSRTP, jingle.NSRTPAudio, jingle.NSRTPVideo,
	jingle.NSICEUDP, jingle.NSDTLS, jingle.NSGrouping, jingle.NSRFC5888,
}

// JMIFeatures are JingleFeatures plus JMI.
var JMIFeatures = append(append([]string(nil), JingleFeatures...), jingle.NSJingleMessage)

// CapsNode is the XEP-0115 node of xmpptest devices.
const CapsNode = "https://github.com/sigbridge/sigbridge/xmpptest"

// LoginOptions tune LoginWith.
type LoginOptions struct {
	// Resource to ask for; default random. (mellium's client binding
	// sends an empty <resource/>, so Prosody assigns one anyway: use
	// Client.JID for the bound address.)
	Resource string
	// Features, when set, are answered to disco#info and announced with
	// caps in every presence the client sends.
	Features []string
	// ApproveSubscriptions fetches the roster at login (which makes the
	// session receive subscription requests and answers) and answers
	// every subscription request with subscribed.
	ApproveSubscriptions bool
}

// capsVer is the XEP-0115 ver of identity client/pc and feats.
func capsVer(feats []string) string {
	fs := append([]string(nil), feats...)
	sort.Strings(fs)
	s := "client/pc//xmpptest<" + strings.Join(fs, "<") + "<"
	sum := sha1.Sum([]byte(s)) // #nosec G401
	return base64.StdEncoding.EncodeToString(sum[:])
}

// presence returns an available presence to to (zero: broadcast), with
// caps when the client has features.
func (c *Client) presence(to jid.JID) xml.TokenReader {
	var payload xml.TokenReader
	if len(c.opts.Features) > 0 {
		payload = xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: "http://jabber.org/protocol/caps", Local: "c"},
			Attr: []xml.Attr{
				{Name: xml.Name{Local: "hash"}, Value: "sha-1"},
				{Name: xml.Name{Local: "node"}, Value: CapsNode},
				{Name: xml.Name{Local: "ver"}, Value: capsVer(c.opts.Features)},
			}})
	}
	return stanza.Presence{To: to}.Wrap(payload)
}

// SendPresence sends an available presence (with caps when the client has
// features) to to: directed presence.
func (c *Client) SendPresence(ctx context.Context, to jid.JID) error {
	return c.w.Send(ctx, c.presence(to))
}

// Subscribe asks for to's presence (a presence subscription).
func (c *Client) Subscribe(ctx context.Context, to jid.JID) error {
	return c.w.Send(ctx, stanza.Presence{To: to.Bare(), Type: stanza.SubscribePresence}.Wrap(nil))
}

// discoAnswer is the disco#info result of a device.
func (c *Client) discoAnswer(node string) (xml.TokenReader, error) {
	type feature struct {
		Var string `xml:"var,attr"`
	}
	q := struct {
		XMLName  xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
		Node     string   `xml:"node,attr,omitempty"`
		Identity struct {
			Category string `xml:"category,attr"`
			Type     string `xml:"type,attr"`
			Name     string `xml:"name,attr"`
		} `xml:"identity"`
		Features []feature `xml:"feature"`
	}{Node: node}
	q.Identity.Category, q.Identity.Type, q.Identity.Name = "client", "pc", "xmpptest"
	for _, f := range c.opts.Features {
		q.Features = append(q.Features, feature{Var: f})
	}
	b, err := xml.Marshal(q)
	if err != nil {
		return nil, err
	}
	return xml.NewDecoder(bytes.NewReader(b)), nil
}

// answerDevice handles what a device answers by itself: disco#info gets
// and subscription requests. It reports whether it handled ev.
func (c *Client) answerDevice(t xmlstream.TokenWriter, ev Event, node string) (bool, error) {
	switch {
	case ev.Name == "iq" && ev.Type == "get" && ev.discoGet && len(c.opts.Features) > 0:
		q, err := c.discoAnswer(node)
		if err != nil {
			return true, err
		}
		iq := stanza.IQ{ID: ev.ID, From: ev.From, To: ev.To, Type: stanza.GetIQ}
		_, err = xmlstream.Copy(t, iq.Result(q))
		c.mu.Lock()
		c.discoAsked++
		c.mu.Unlock()
		return true, err
	case ev.Name == "presence" && ev.Type == "subscribe" && c.opts.ApproveSubscriptions:
		p := stanza.Presence{To: ev.From.Bare(), Type: stanza.SubscribedPresence}
		_, err := xmlstream.Copy(t, p.Wrap(nil))
		return false, err // still queued: tests may wait for it
	}
	return false, nil
}

// DiscoAsked reports how many disco#info queries the client answered.
func (c *Client) DiscoAsked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.discoAsked
}

// AnswerDirect waits for a session-initiate that came without a JMI
// proposal (the caller's way to reach a client without XEP-0353) and
// answers it with a new Peer.
func (c *Client) AnswerDirect(ctx context.Context) (*Call, error) {
	ev, err := c.ExpectInitiate(ctx)
	if err != nil {
		return nil, err
	}
	return c.AcceptInitiate(ctx, ev)
}

// ExpectInitiate waits for a session-initiate.
func (c *Client) ExpectInitiate(ctx context.Context) (Event, error) {
	ev, err := c.Expect(ctx, func(e Event) bool {
		return e.Jingle != nil && e.Type == "set" && e.Jingle.Action == jingle.ActionSessionInitiate
	})
	if err != nil {
		return Event{}, fmt.Errorf("xmpptest: waiting for session-initiate: %w", err)
	}
	return ev, nil
}

// AcceptInitiate answers the session-initiate ev with a new Peer.
func (c *Client) AcceptInitiate(ctx context.Context, ev Event) (*Call, error) {
	call, err := c.newCall(ev.Jingle.SID, ev.From, jingle.Responder)
	if err != nil {
		return nil, err
	}
	if err := call.acceptEvent(ctx, ev); err != nil {
		call.Media.Close()
		return nil, err
	}
	return call, nil
}

// DeclineInitiate answers the session-initiate ev with session-terminate
// and reason.
func (c *Client) DeclineInitiate(ctx context.Context, ev Event, reason string) error {
	j := &jingle.Jingle{Action: jingle.ActionSessionTerminate, SID: ev.Jingle.SID, Reason: jingle.NewReason(reason, "")}
	return c.SendJingle(ctx, ev.From, j)
}
