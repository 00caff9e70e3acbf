package xmpp

import (
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// HandleXMPP implements xmpp.Handler. It runs on the stream's reading
// goroutine for every stanza the framer let through: it decodes the stanza,
// writes the immediate reply (an IQ result or error: "acknowledge first"),
// then hands the work to the session's goroutine. It never blocks on a
// session and never ends the stream because of a stanza's content.
func (st *stream) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) (err error) {
	var in inStanza
	defer st.a.recoverStanza(&in, &err)
	decErr := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&in)
	if decErr != nil {
		in.XMLName = start.Name
		readHead(&in, start)
	}
	reply, after := st.a.dispatch(st, &in, decErr)
	if reply != nil {
		if _, err := xmlstream.Copy(t, reply); err != nil {
			return err
		}
	}
	if after != nil {
		after()
	}
	return nil
}

// recoverStanza turns a panic while handling one stanza into a log line and
// a metric; the stream goes on.
func (a *Adapter) recoverStanza(in *inStanza, err *error) {
	if r := recover(); r != nil {
		a.metrics.Panic()
		a.log.Error("panic while handling a stanza", "panic", fmt.Sprint(r), "kind", in.XMLName.Local, "id", clip(in.ID))
		*err = nil
	}
}

// readHead fills the addressing attributes from the start element (used
// when the payload did not decode).
func readHead(in *inStanza, start *xml.StartElement) {
	for _, at := range start.Attr {
		switch at.Name.Local {
		case "id":
			in.ID = at.Value
		case "type":
			in.Type = at.Value
		case "from":
			in.From = at.Value
		case "to":
			in.To = at.Value
		}
	}
}

// dispatch routes one decoded stanza. It returns the reply to write at once
// (or nil) and the work to start after the reply is written (or nil).
func (a *Adapter) dispatch(st *stream, in *inStanza, decErr error) (xml.TokenReader, func()) {
	a.metrics.Message(dialect, "in", in.kind())
	a.log.Debug("stanza in", "kind", in.kind(), "type", in.Type, "from", in.From, "to", in.To, "id", clip(in.ID))
	switch in.XMLName.Local {
	case "iq":
		return a.onIQ(st, in, decErr)
	case "message":
		if decErr == nil {
			return nil, a.onMessage(st, in)
		}
	case "presence":
		if decErr == nil {
			return a.onPresence(st, in)
		}
	}
	if decErr != nil {
		a.log.Info("undecodable stanza dropped", "kind", in.XMLName.Local, "err", decErr)
	}
	return nil, nil
}

// onIQ answers IQ get/set and routes IQ results to the tracker.
func (a *Adapter) onIQ(st *stream, in *inStanza, decErr error) (xml.TokenReader, func()) {
	req, err := iqOf(in)
	if err != nil {
		a.log.Info("IQ with bad addresses dropped", "err", err)
		return nil, nil
	}
	switch req.Type {
	case stanza.ResultIQ, stanza.ErrorIQ:
		cond, app := in.Error.condition()
		st.iqs.resolve(req.ID, req.From, iqResult{ok: req.Type == stanza.ResultIQ, cond: cond, app: app, disco: in.DiscoInfo})
		return nil, nil
	case stanza.GetIQ, stanza.SetIQ:
	default:
		return nil, nil
	}
	if decErr != nil {
		return a.refuse(req, badRequestFor(decErr)), nil
	}
	return a.onRequest(st, req, in)
}

// onRequest handles an IQ get or set addressed to us.
func (a *Adapter) onRequest(st *stream, req stanza.IQ, in *inStanza) (xml.TokenReader, func()) {
	get := req.Type == stanza.GetIQ
	switch {
	case !a.ours(req.To):
		return a.refuse(req, errNoService), nil
	case in.Jingle != nil && !get:
		return a.onJingle(st, req, in.Jingle)
	case in.DiscoInfo != nil && get:
		return resultReply(req, a.discoInfo(req.To, in.DiscoInfo.Node)), nil
	case in.DiscoItems != nil && get:
		return resultReply(req, discoItems(in.DiscoItems.Node)), nil
	case in.Ping != nil && get:
		return resultReply(req, nil), nil
	}
	return a.refuse(req, errNoService), nil
}

// refuse returns an IQ error reply and counts it.
func (a *Adapter) refuse(req stanza.IQ, e stanzaError) xml.TokenReader {
	a.metrics.Error(dialect, e.code)
	a.log.Debug("IQ refused", "id", clip(req.ID), "from", req.From.String(), "cond", e.cond, "app", e.app)
	return errorReply(req, e)
}

// badRequestFor picks the text of a bad-request from typed errors only (no
// echo of peer input).
func badRequestFor(err error) stanzaError {
	switch {
	case errors.Is(err, jingle.ErrBadCandidate):
		return errBadRequest.withText("malformed candidate")
	case errors.Is(err, jingle.ErrBadXML), errors.Is(err, jingle.ErrBadJingle):
		return errBadRequest.withText("malformed Jingle element")
	}
	return errBadRequest.withText("malformed payload")
}

// iqOf returns the IQ header of a request with parsed addresses.
func iqOf(in *inStanza) (stanza.IQ, error) {
	iq := stanza.IQ{XMLName: xml.Name{Local: "iq"}, ID: in.ID, Type: stanza.IQType(in.Type)}
	var err error
	if iq.From, err = parseOptJID(in.From); err != nil {
		return iq, err
	}
	if iq.To, err = parseOptJID(in.To); err != nil {
		return iq, err
	}
	if iq.ID == "" || iq.From.String() == "" {
		return iq, fmt.Errorf("%w: IQ without id or from", ErrBadJID)
	}
	return iq, nil
}

func parseOptJID(s string) (jid.JID, error) {
	if s == "" {
		return jid.JID{}, nil
	}
	return jid.Parse(s)
}
