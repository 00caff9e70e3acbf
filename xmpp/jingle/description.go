package jingle

// Description is the XEP-0167 RTP <description media='audio|video'>.
// Element order on output follows the field order below.
type Description struct {
	Media            string            `xml:"media,attr"`
	SSRC             string            `xml:"ssrc,attr,omitempty"` // legacy XEP-0167 attribute, read only
	PayloadTypes     []PayloadType     `xml:"payload-type"`
	Bandwidths       []Bandwidth       `xml:"bandwidth"`
	RTCPMux          Flag              `xml:"rtcp-mux,omitempty"`
	Encryption       *Encryption       `xml:"encryption,omitempty"`
	RTCPFeedback     []RTCPFeedback    `xml:"urn:xmpp:jingle:apps:rtp:rtcp-fb:0 rtcp-fb"`
	RTCPFbTrrInt     []RTCPFbTrrInt    `xml:"urn:xmpp:jingle:apps:rtp:rtcp-fb:0 rtcp-fb-trr-int"`
	HeaderExtensions []HeaderExtension `xml:"urn:xmpp:jingle:apps:rtp:rtp-hdrext:0 rtp-hdrext"`
	ExtmapAllowMixed Flag              `xml:"urn:xmpp:jingle:apps:rtp:rtp-hdrext:0 extmap-allow-mixed,omitempty"`
	Sources          []Source          `xml:"urn:xmpp:jingle:apps:rtp:ssma:0 source"`
	SSRCGroups       []SSRCGroup       `xml:"urn:xmpp:jingle:apps:rtp:ssma:0 ssrc-group"`
}

// PayloadType is <payload-type id name clockrate channels ptime maxptime>.
// Channels 0 means the default 1.
type PayloadType struct {
	ID           uint8          `xml:"id,attr"`
	Name         string         `xml:"name,attr,omitempty"`
	Clockrate    uint32         `xml:"clockrate,attr,omitempty"`
	Channels     uint8          `xml:"channels,attr,omitempty"`
	Ptime        uint32         `xml:"ptime,attr,omitempty"`
	Maxptime     uint32         `xml:"maxptime,attr,omitempty"`
	Parameters   []Parameter    `xml:"parameter"`
	RTCPFeedback []RTCPFeedback `xml:"urn:xmpp:jingle:apps:rtp:rtcp-fb:0 rtcp-fb"`
	RTCPFbTrrInt []RTCPFbTrrInt `xml:"urn:xmpp:jingle:apps:rtp:rtcp-fb:0 rtcp-fb-trr-int"`
}

// Parameter is <parameter name value/>. An fmtp token without '=' has an
// empty Name (Jitsi writes name="", jingle.js omits it).
type Parameter struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Bandwidth is <bandwidth type='AS'>value</bandwidth> (kbps for AS).
type Bandwidth struct {
	Type  string `xml:"type,attr"`
	Value uint64 `xml:",chardata"`
}

// Encryption is the SDES <encryption required?> with <crypto> children.
type Encryption struct {
	Required string   `xml:"required,attr,omitempty"`
	Crypto   []Crypto `xml:"crypto"`
}

// Crypto is one a=crypto line.
type Crypto struct {
	Tag           string `xml:"tag,attr"`
	CryptoSuite   string `xml:"crypto-suite,attr"`
	KeyParams     string `xml:"key-params,attr"`
	SessionParams string `xml:"session-params,attr,omitempty"`
}

// RTCPFeedback is XEP-0293 <rtcp-fb type subtype?>; tokens after the subtype
// become parameters (name = the token, empty value).
type RTCPFeedback struct {
	Type       string      `xml:"type,attr"`
	Subtype    string      `xml:"subtype,attr,omitempty"`
	Parameters []Parameter `xml:"parameter"`
}

// RTCPFbTrrInt is XEP-0293 <rtcp-fb-trr-int value/>.
type RTCPFbTrrInt struct {
	Value uint32 `xml:"value,attr"`
}

// HeaderExtension is XEP-0294 <rtp-hdrext id uri senders?>. Extension
// attributes after the URI are kept as one parameter with an empty value.
type HeaderExtension struct {
	ID         uint16      `xml:"id,attr"`
	URI        string      `xml:"uri,attr"`
	Senders    Senders     `xml:"senders,attr,omitempty"`
	Parameters []Parameter `xml:"parameter"`
}

// Source is XEP-0339 <source ssrc> with cname/msid/... parameters.
type Source struct {
	SSRC       uint32      `xml:"ssrc,attr"`
	Parameters []Parameter `xml:"parameter"`
}

// SSRCGroup is XEP-0339 <ssrc-group semantics='FID'> listing sources.
type SSRCGroup struct {
	Semantics string      `xml:"semantics,attr"`
	Sources   []SourceRef `xml:"source"`
}

// SourceRef is a <source ssrc/> inside an ssrc-group.
type SourceRef struct {
	SSRC uint32 `xml:"ssrc,attr"`
}

// Param returns the value of the first parameter called name.
func (s *Source) Param(name string) (string, bool) {
	for _, p := range s.Parameters {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}
