package xmpp

import (
	"encoding/xml"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// JMI (XEP-0353) element names.
const (
	jmiPropose = "propose"
	jmiProceed = "proceed"
	jmiReject  = "reject"
	jmiRetract = "retract"
	jmiRinging = "ringing"
	jmiAccept  = "accept"
	jmiFinish  = "finish"
)

// maxSIDBytes caps a JMI id / Jingle sid we accept.
const maxSIDBytes = 256

// jmiElem is any JMI element, in or out. Target is the sigbridge extension
// that names the call target in client mode.
type jmiElem struct {
	XMLName      xml.Name
	ID           string           `xml:"id,attr"`
	Descriptions []jmiDescription `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
	Reason       *jingle.Reason   `xml:"urn:xmpp:jingle:1 reason,omitempty"`
	Target       string           `xml:"urn:xmpp:sigbridge:0 target,omitempty"`
}

// jmiDescription is <description xmlns='urn:xmpp:jingle:apps:rtp:1' media/>.
type jmiDescription struct {
	XMLName xml.Name `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
	Media   string   `xml:"media,attr"`
}

// jmiIn is a received JMI element with its name.
type jmiIn struct {
	name string
	*jmiElem
}

// reason returns the condition of the element's reason, or "".
func (j *jmiIn) reason() string {
	if j.Reason == nil {
		return ""
	}
	return j.Reason.Condition
}

// jmiMessage builds the message carrying one JMI element (type chat with
// a store hint, protocols.md §3.1). nick, if set, is added as XEP-0172;
// msgID empty gets a random stanza id.
func jmiMessage(from, to jid.JID, el jmiElem, name, nick, msgID string) (xml.TokenReader, error) {
	el.XMLName = xml.Name{Space: jingle.NSJingleMessage, Local: name}
	payload, err := tokens(el)
	if err != nil {
		return nil, err
	}
	parts := []xml.TokenReader{payload, empty(nsHints, "store")}
	if nick != "" {
		parts = append(parts, xmlstream.Wrap(xmlstream.Token(xml.CharData(nick)),
			xml.StartElement{Name: xml.Name{Space: nsNick, Local: "nick"}}))
	}
	if msgID == "" {
		msgID = newID()
	}
	msg := stanza.Message{ID: msgID, From: from, To: to, Type: stanza.ChatMessage}
	return msg.Wrap(xmlstream.MultiReader(parts...)), nil
}

// proposeMedia lists one description per audio or video m-line of an offer
// (Conversations ignores a propose with anything else).
func proposeMedia(sd *sdp.SessionDescription) []jmiDescription {
	var out []jmiDescription
	seen := map[string]bool{}
	for _, m := range sd.MediaDescriptions {
		media := m.MediaName.Media
		if (media == "audio" || media == "video") && m.MediaName.Port.Value != 0 && !seen[media] {
			seen[media] = true
			out = append(out, jmiDescription{Media: media})
		}
	}
	return out
}

// validSID reports whether a JMI id / Jingle sid is acceptable.
func validSID(s string) bool {
	if s == "" || len(s) > maxSIDBytes {
		return false
	}
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
