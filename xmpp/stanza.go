package xmpp

import (
	"bytes"
	"encoding/xml"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/stanza"
)

// Namespaces used by the adapter besides those of package jingle.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsPing       = "urn:xmpp:ping"
	nsHints      = "urn:xmpp:hints"
	nsStanzas    = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsCaps       = "http://jabber.org/protocol/caps"
	nsNick       = "http://jabber.org/protocol/nick"
	// nsSigbridge carries the call target in client mode (see README).
	nsSigbridge = "urn:xmpp:sigbridge:0"
)

// inStanza is an incoming stanza decoded in one pass. The payload fields
// are those the adapter understands; anything else lands in Other. Jingle
// elements are validated while decoding (candidates); the framer already
// enforced the XML safety rules, so decoding from mellium's tokens is safe.
type inStanza struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`

	Jingle     *jingle.Jingle `xml:"urn:xmpp:jingle:1 jingle"`
	DiscoInfo  *discoQuery    `xml:"http://jabber.org/protocol/disco#info query"`
	DiscoItems *discoQuery    `xml:"http://jabber.org/protocol/disco#items query"`
	Ping       *struct{}      `xml:"urn:xmpp:ping ping"`
	Error      *errorIn       `xml:"error"`
	Delay      *struct{}      `xml:"urn:xmpp:delay delay"`
	Caps       *capsIn        `xml:"http://jabber.org/protocol/caps c"`

	Propose *jmiElem `xml:"urn:xmpp:jingle-message:0 propose"`
	Proceed *jmiElem `xml:"urn:xmpp:jingle-message:0 proceed"`
	Reject  *jmiElem `xml:"urn:xmpp:jingle-message:0 reject"`
	Retract *jmiElem `xml:"urn:xmpp:jingle-message:0 retract"`
	Ringing *jmiElem `xml:"urn:xmpp:jingle-message:0 ringing"`
	Accept  *jmiElem `xml:"urn:xmpp:jingle-message:0 accept"`
	Finish  *jmiElem `xml:"urn:xmpp:jingle-message:0 finish"`

	Other []anyElem `xml:",any"`
}

// anyElem records the name of an element and skips its content.
type anyElem struct{ XMLName xml.Name }

// errorIn is a received <error/>: the defined condition and, if any, an
// application-specific condition (such as Jingle's unknown-session).
type errorIn struct {
	Type  string    `xml:"type,attr"`
	Conds []anyElem `xml:",any"`
}

// condition returns the RFC 6120 condition and the application condition.
func (e *errorIn) condition() (cond, app string) {
	if e == nil {
		return "", ""
	}
	for _, c := range e.Conds {
		switch {
		case c.XMLName.Space == nsStanzas && c.XMLName.Local != "text" && cond == "":
			cond = c.XMLName.Local
		case c.XMLName.Space != nsStanzas && app == "":
			app = c.XMLName.Local
		}
	}
	return cond, app
}

// kind names the stanza for logs and metrics, from a bounded set (peer
// values that are not known become "other").
func (in *inStanza) kind() string {
	switch {
	case in.Jingle != nil && in.Jingle.Action.Known():
		return string(in.Jingle.Action)
	case in.Jingle != nil:
		return "jingle-other"
	case in.DiscoInfo != nil:
		return "disco-info"
	case in.DiscoItems != nil:
		return "disco-items"
	case in.Ping != nil:
		return "ping"
	}
	if e := in.jmi(); e != nil {
		return "jmi-" + e.name
	}
	return knownOr(in.XMLName.Local, "iq", "message", "presence") + "-" + knownOr(in.Type,
		"get", "set", "result", "error", "chat", "normal", "groupchat", "headline", "",
		"subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "unavailable")
}

func knownOr(s string, known ...string) string {
	for _, k := range known {
		if s == k {
			return s
		}
	}
	return "other"
}

// jmi returns the JMI element of a message, if any, with its name.
func (in *inStanza) jmi() *jmiIn {
	for _, c := range []struct {
		name string
		el   *jmiElem
	}{{jmiPropose, in.Propose}, {jmiProceed, in.Proceed}, {jmiReject, in.Reject},
		{jmiRetract, in.Retract}, {jmiRinging, in.Ringing}, {jmiAccept, in.Accept}, {jmiFinish, in.Finish}} {
		if c.el != nil {
			return &jmiIn{name: c.name, jmiElem: c.el}
		}
	}
	return nil
}

// tokens marshals v and returns it as a token stream for mellium.
func tokens(v any) (xml.TokenReader, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, err
	}
	return xml.NewDecoder(bytes.NewReader(b)), nil
}

// empty returns a token stream of one empty element.
func empty(space, local string) xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: space, Local: local}})
}

// stanzaError is an IQ or message error we send: an RFC 6120 condition and
// an optional application condition in the Jingle errors namespace.
type stanzaError struct {
	typ  stanza.ErrorType
	cond stanza.Condition
	app  string // unknown-session, out-of-order, tie-break, unsupported-info
	text string
	code int // for the metric
}

// Errors of protocols.md §2.2.
var (
	errBadRequest     = stanzaError{typ: stanza.Modify, cond: stanza.BadRequest, code: 400}
	errUnknownSession = stanzaError{typ: stanza.Cancel, cond: stanza.ItemNotFound, app: "unknown-session", code: 404}
	errOutOfOrder     = stanzaError{typ: stanza.Wait, cond: stanza.UnexpectedRequest, app: "out-of-order", code: 409}
	errTieBreak       = stanzaError{typ: stanza.Cancel, cond: stanza.Conflict, app: "tie-break", code: 409}
	errUnsupported    = stanzaError{typ: stanza.Cancel, cond: stanza.FeatureNotImplemented, app: "unsupported-info", code: 501}
	errTooLarge       = stanzaError{typ: stanza.Modify, cond: stanza.PolicyViolation, code: 413}
	errNoService      = stanzaError{typ: stanza.Cancel, cond: stanza.ServiceUnavailable, code: 503}
	errTooBusy        = stanzaError{typ: stanza.Wait, cond: stanza.ResourceConstraint, code: 503}
)

func (e stanzaError) withText(s string) stanzaError {
	if len(s) > 200 {
		s = s[:200]
	}
	e.text = s
	return e
}

func (e stanzaError) tokens() xml.TokenReader {
	var app xml.TokenReader
	if e.app != "" {
		app = empty(jingle.NSJingleErrors, e.app)
	}
	se := stanza.Error{Type: e.typ, Condition: e.cond}
	if e.text != "" {
		se.Text = map[string]string{"": e.text}
	}
	return se.Wrap(app)
}

// errorReply returns the error reply to an IQ.
func errorReply(req stanza.IQ, e stanzaError) xml.TokenReader {
	req.Type = stanza.ErrorIQ
	req.From, req.To = req.To, req.From
	return req.Wrap(e.tokens())
}

// resultReply returns the empty result reply to an IQ, or one with payload.
func resultReply(req stanza.IQ, payload xml.TokenReader) xml.TokenReader {
	return req.Result(payload)
}
