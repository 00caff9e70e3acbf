package jingle

import "encoding/xml"

// Reason conditions (XEP-0166 §7.4), as element names.
const (
	ReasonAlternativeSession      = "alternative-session"
	ReasonBusy                    = "busy"
	ReasonCancel                  = "cancel"
	ReasonConnectivityError       = "connectivity-error"
	ReasonDecline                 = "decline"
	ReasonExpired                 = "expired"
	ReasonFailedApplication       = "failed-application"
	ReasonFailedTransport         = "failed-transport"
	ReasonGeneralError            = "general-error"
	ReasonGone                    = "gone"
	ReasonIncompatibleParameters  = "incompatible-parameters"
	ReasonMediaError              = "media-error"
	ReasonSecurityError           = "security-error"
	ReasonSuccess                 = "success"
	ReasonTimeout                 = "timeout"
	ReasonUnsupportedApplications = "unsupported-applications"
	ReasonUnsupportedTransports   = "unsupported-transports"
)

// KnownReason reports whether cond is one of the XEP-0166 conditions.
func KnownReason(cond string) bool {
	switch cond {
	case ReasonAlternativeSession, ReasonBusy, ReasonCancel,
		ReasonConnectivityError, ReasonDecline, ReasonExpired,
		ReasonFailedApplication, ReasonFailedTransport, ReasonGeneralError,
		ReasonGone, ReasonIncompatibleParameters, ReasonMediaError,
		ReasonSecurityError, ReasonSuccess, ReasonTimeout,
		ReasonUnsupportedApplications, ReasonUnsupportedTransports:
		return true
	}
	return false
}

// Reason is <reason><COND/><text>...</text></reason>.
//
// On input any condition element in the Jingle namespace is accepted (the
// caller maps unknown ones, see KnownReason); foreign elements are ignored.
// SID is the <sid/> child of alternative-session.
type Reason struct {
	Condition string
	Text      string
	SID       string
}

// NewReason returns a reason with an optional text.
func NewReason(cond, text string) *Reason {
	return &Reason{Condition: cond, Text: text}
}

type reasonWire struct {
	Conds []reasonCond `xml:",any"`
	Text  string       `xml:"urn:xmpp:jingle:1 text,omitempty"`
}

type reasonCond struct {
	XMLName xml.Name
	SID     string `xml:"sid,omitempty"`
}

// MarshalXML implements xml.Marshaler. The reason, its condition and its
// text are always in the Jingle namespace, also inside a JMI element
// (XEP-0353 reuses XEP-0166's <reason/>), whatever the parent's default
// namespace.
func (r Reason) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	w := reasonWire{Text: r.Text}
	start.Name = xml.Name{Space: NSJingle, Local: "reason"}
	if r.Condition != "" {
		c := reasonCond{XMLName: xml.Name{Space: NSJingle, Local: r.Condition}}
		if r.Condition == ReasonAlternativeSession {
			c.SID = r.SID
		}
		w.Conds = []reasonCond{c}
	}
	start.Attr = nil
	return e.EncodeElement(w, start)
}

// UnmarshalXML implements xml.Unmarshaler.
func (r *Reason) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var w reasonWire
	if err := d.DecodeElement(&w, &start); err != nil {
		return err
	}
	*r = Reason{Text: w.Text}
	for _, c := range w.Conds {
		if c.XMLName.Space == NSJingle || c.XMLName.Space == "" {
			r.Condition, r.SID = c.XMLName.Local, c.SID
			break
		}
	}
	return nil
}

// SessionInfo kinds (XEP-0167 §7, namespace urn:xmpp:jingle:apps:rtp:info:1).
const (
	InfoActive  = "active"
	InfoHold    = "hold"
	InfoMute    = "mute"
	InfoRinging = "ringing"
	InfoUnhold  = "unhold"
	InfoUnmute  = "unmute"
)

// SessionInfo is the payload of a session-info action. Kind is the element
// name; mute/unmute may carry Creator and Name of a content. A session-info
// without payload (a ping) has Jingle.Info == nil.
type SessionInfo struct {
	XMLName xml.Name
	Creator string `xml:"creator,attr,omitempty"`
	Name    string `xml:"name,attr,omitempty"`
}

// NewInfo returns a session-info payload of the given kind (InfoRinging...).
func NewInfo(kind string) *SessionInfo {
	return &SessionInfo{XMLName: xml.Name{Space: NSRTPInfo, Local: kind}}
}

// Kind returns the element name ("ringing", "hold", ...).
func (s *SessionInfo) Kind() string { return s.XMLName.Local }

func (s SessionInfo) withName() SessionInfo {
	s.XMLName.Space = NSRTPInfo
	return s
}

func (s *SessionInfo) isInfo() bool {
	if s.XMLName.Space != NSRTPInfo && s.XMLName.Space != nsRTPInfoMisspelt {
		return false
	}
	switch s.XMLName.Local {
	case InfoActive, InfoHold, InfoMute, InfoRinging, InfoUnhold, InfoUnmute:
		return true
	}
	return false
}
