package jingle

// Transport is the XEP-0176 ICE-UDP <transport ufrag pwd> with XEP-0320
// fingerprints and the XEP-0343 sctpmap. Under BUNDLE every content carries
// the same ufrag/pwd/fingerprint.
type Transport struct {
	Ufrag           string           `xml:"ufrag,attr,omitempty"`
	Pwd             string           `xml:"pwd,attr,omitempty"`
	RTCPMux         Flag             `xml:"rtcp-mux,omitempty"` // old Jitsi, read only
	Fingerprints    []Fingerprint    `xml:"urn:xmpp:jingle:apps:dtls:0 fingerprint"`
	SCTPMap         *SCTPMap         `xml:"urn:xmpp:jingle:transports:dtls-sctp:1 sctpmap,omitempty"`
	Candidates      []Candidate      `xml:"candidate"`
	RemoteCandidate *RemoteCandidate `xml:"remote-candidate,omitempty"`
}

// DTLS setup roles (RFC 4145 / XEP-0320).
const (
	SetupActpass = "actpass"
	SetupActive  = "active"
	SetupPassive = "passive"
)

// Fingerprint is XEP-0320 <fingerprint hash setup>HEX</fingerprint>.
// Jitsi's cryptex/required attributes are tolerated and ignored.
type Fingerprint struct {
	Hash  string `xml:"hash,attr"`
	Setup string `xml:"setup,attr,omitempty"`
	Value string `xml:",chardata"`
}

// SCTPMap is XEP-0343 <sctpmap number protocol streams?>. The attribute is
// number (the XEP's table says port; Port is read as a fallback).
type SCTPMap struct {
	Number   uint16 `xml:"number,attr"`
	Port     uint16 `xml:"port,attr,omitempty"`
	Protocol string `xml:"protocol,attr"`
	Streams  uint16 `xml:"streams,attr,omitempty"`
}

// SCTPPort returns Number, or Port when Number is missing.
func (s *SCTPMap) SCTPPort() uint16 {
	if s.Number != 0 {
		return s.Number
	}
	return s.Port
}

// RemoteCandidate is XEP-0176 <remote-candidate component ip port/>.
type RemoteCandidate struct {
	Component uint8  `xml:"component,attr"`
	IP        string `xml:"ip,attr"`
	Port      uint16 `xml:"port,attr"`
}
