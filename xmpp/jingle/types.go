package jingle

import (
	"encoding/xml"
)

// Role names a party of a Jingle session: the author of an SDP, or the
// sender of a stanza.
type Role int

const (
	// Initiator is the party that sent session-initiate.
	Initiator Role = iota
	// Responder is the party that answers with session-accept.
	Responder
)

// String returns "initiator" or "responder" (the XML spelling).
func (r Role) String() string {
	if r == Responder {
		return "responder"
	}
	return "initiator"
}

// Other returns the opposite role.
func (r Role) Other() Role {
	if r == Responder {
		return Initiator
	}
	return Responder
}

// ParseRole reads "initiator" or "responder".
func ParseRole(s string) (Role, bool) {
	switch s {
	case "initiator":
		return Initiator, true
	case "responder":
		return Responder, true
	}
	return Initiator, false
}

// Action is the XEP-0166 action attribute.
type Action string

// XEP-0166 actions.
const (
	ActionContentAccept    Action = "content-accept"
	ActionContentAdd       Action = "content-add"
	ActionContentModify    Action = "content-modify"
	ActionContentReject    Action = "content-reject"
	ActionContentRemove    Action = "content-remove"
	ActionDescriptionInfo  Action = "description-info"
	ActionSecurityInfo     Action = "security-info"
	ActionSessionAccept    Action = "session-accept"
	ActionSessionInfo      Action = "session-info"
	ActionSessionInitiate  Action = "session-initiate"
	ActionSessionTerminate Action = "session-terminate"
	ActionTransportAccept  Action = "transport-accept"
	ActionTransportInfo    Action = "transport-info"
	ActionTransportReject  Action = "transport-reject"
	ActionTransportReplace Action = "transport-replace"
	ActionSourceAdd        Action = "source-add"    // Jitsi extension, tolerated
	ActionSourceRemove     Action = "source-remove" // Jitsi extension, tolerated
)

// Known reports whether a is one of the XEP-0166 actions (or a tolerated
// Jitsi extension).
func (a Action) Known() bool {
	switch a {
	case ActionContentAccept, ActionContentAdd, ActionContentModify,
		ActionContentReject, ActionContentRemove, ActionDescriptionInfo,
		ActionSecurityInfo, ActionSessionAccept, ActionSessionInfo,
		ActionSessionInitiate, ActionSessionTerminate, ActionTransportAccept,
		ActionTransportInfo, ActionTransportReject, ActionTransportReplace,
		ActionSourceAdd, ActionSourceRemove:
		return true
	}
	return false
}

// Senders is the content senders attribute (XEP-0166); empty means both.
type Senders string

// Senders values. SendersRejected is a Jitsi extension meaning port 0.
const (
	SendersBoth      Senders = "both"
	SendersInitiator Senders = "initiator"
	SendersResponder Senders = "responder"
	SendersNone      Senders = "none"
	SendersRejected  Senders = "rejected"
)

// Creator values of a content (unreliable on input, see protocols.md §2.2).
const (
	CreatorInitiator = "initiator"
	CreatorResponder = "responder"
)

// Jingle is the <jingle xmlns='urn:xmpp:jingle:1'/> element.
//
// Info carries the session-info payload (ringing, hold, ...), if any.
// Unknown child elements are ignored on input; for a session-info without
// a known payload, UnknownInfo names the first unknown one ("{ns}local"),
// which XEP-0166 answers with feature-not-implemented + unsupported-info.
type Jingle struct {
	Action    Action
	SID       string
	Initiator string // only on session-initiate (but Conversations omits it)
	Responder string // only on session-accept
	Contents  []Content
	Group     *Group
	Reason    *Reason
	Info      *SessionInfo
	// UnknownInfo is input only: never marshaled.
	UnknownInfo string
}

// jingleWire is the encoding/xml shape of Jingle. Info lives in Any so that
// any session-info element name can be read and written.
type jingleWire struct {
	XMLName   xml.Name      `xml:"urn:xmpp:jingle:1 jingle"`
	Action    Action        `xml:"action,attr"`
	Initiator string        `xml:"initiator,attr,omitempty"`
	Responder string        `xml:"responder,attr,omitempty"`
	SID       string        `xml:"sid,attr"`
	Contents  []Content     `xml:"content"`
	Group     *Group        `xml:"urn:xmpp:jingle:apps:grouping:0 group,omitempty"`
	Reason    *Reason       `xml:"reason,omitempty"`
	Any       []SessionInfo `xml:",any"`
}

// MarshalXML implements xml.Marshaler.
func (j Jingle) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	w := jingleWire{
		Action: j.Action, Initiator: j.Initiator, Responder: j.Responder,
		SID: j.SID, Reason: j.Reason, Group: j.Group, Contents: j.Contents,
	}
	if j.Info != nil {
		w.Any = []SessionInfo{j.Info.withName()}
	}
	start.Name = xml.Name{Space: NSJingle, Local: "jingle"}
	start.Attr = nil
	return e.EncodeElement(w, start)
}

// UnmarshalXML implements xml.Unmarshaler. It does not enforce the safety
// limits: untrusted input goes through Parse.
func (j *Jingle) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var w jingleWire
	if err := d.DecodeElement(&w, &start); err != nil {
		return err
	}
	*j = Jingle{
		Action: w.Action, SID: w.SID, Initiator: w.Initiator,
		Responder: w.Responder, Contents: w.Contents, Group: w.Group,
		Reason: w.Reason,
	}
	for i := range w.Any {
		if w.Any[i].isInfo() {
			info := w.Any[i]
			j.Info = &info
			break
		}
	}
	if j.Action == ActionSessionInfo && j.Info == nil && len(w.Any) > 0 {
		n := w.Any[0].XMLName
		j.UnknownInfo = "{" + n.Space + "}" + n.Local
	}
	return nil
}

// Content is <content creator name senders? disposition?>.
//
// A data channel content has no RTP Description; its Transport carries an
// SCTPMap. DataChannel is set when a peer sent the (tolerated) StanzaJS
// style <description xmlns='urn:xmpp:jingle:transports:webrtc-datachannel:0'/>.
type Content struct {
	Creator     string                  `xml:"creator,attr"`
	Name        string                  `xml:"name,attr"`
	Senders     Senders                 `xml:"senders,attr,omitempty"`
	Disposition string                  `xml:"disposition,attr,omitempty"`
	Description *Description            `xml:"urn:xmpp:jingle:apps:rtp:1 description,omitempty"`
	DataChannel *DataChannelDescription `xml:"urn:xmpp:jingle:transports:webrtc-datachannel:0 description,omitempty"`
	Transport   *Transport              `xml:"urn:xmpp:jingle:transports:ice-udp:1 transport,omitempty"`
}

// DataChannelDescription is the StanzaJS/lib-jitsi-meet data channel
// description. It is read but never written (protocols.md §2.3: no description).
type DataChannelDescription struct {
	Type string `xml:"type,attr,omitempty"`
}

// IsRejected reports Jitsi's senders='rejected' (= SDP port 0).
func (c *Content) IsRejected() bool { return c.Senders == SendersRejected }

// Group is the XEP-0338 <group semantics='BUNDLE'> element. Old Jitsi
// writes type= instead of semantics=; use Kind to read either.
type Group struct {
	Semantics string         `xml:"semantics,attr,omitempty"`
	Type      string         `xml:"type,attr,omitempty"`
	Contents  []GroupContent `xml:"content"`
}

// GroupContent names one content of a group.
type GroupContent struct {
	Name string `xml:"name,attr"`
}

// Kind returns the semantics (or the legacy type attribute).
func (g *Group) Kind() string {
	if g.Semantics != "" {
		return g.Semantics
	}
	return g.Type
}

// Names lists the content names of the group in order.
func (g *Group) Names() []string {
	out := make([]string, 0, len(g.Contents))
	for _, c := range g.Contents {
		out = append(out, c.Name)
	}
	return out
}

// Flag is an empty marker element such as <rtcp-mux/>: true writes it,
// false omits it (use it with omitempty).
type Flag bool

// MarshalXML implements xml.Marshaler.
func (f Flag) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if !f {
		return nil
	}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

// UnmarshalXML implements xml.Unmarshaler.
func (f *Flag) UnmarshalXML(d *xml.Decoder, _ xml.StartElement) error {
	*f = true
	return d.Skip()
}

// FindContent returns the content called name, or nil.
func (j *Jingle) FindContent(name string) *Content {
	for k := range j.Contents {
		if j.Contents[k].Name == name {
			return &j.Contents[k]
		}
	}
	return nil
}
