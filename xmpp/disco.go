package xmpp

import (
	"crypto/sha1" // #nosec G505 -- XEP-0115 mandates SHA-1 for the caps hash
	"encoding/base64"
	"encoding/xml"
	"sort"
	"strings"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Features lists what every gateway JID advertises in disco#info
// (protocols.md §3.2).
var Features = []string{
	nsDiscoInfo,
	jingle.NSJingle,
	jingle.NSRTP,
	jingle.NSRTPAudio,
	jingle.NSRTPVideo,
	jingle.NSICEUDP,
	jingle.NSDTLS,
	jingle.NSGrouping,
	jingle.NSRFC5888,
	jingle.NSRTCPFB,
	jingle.NSRTPHdrExt,
	jingle.NSSSMA,
	jingle.NSRFC5576,
	jingle.NSJingleMessage,
	jingle.NSRFC3264,
	nsPing,
}

// capsNode is our XEP-0115 node.
const capsNode = "https://github.com/sigbridge/sigbridge"

// discoQuery is a disco#info or disco#items query or answer.
type discoQuery struct {
	XMLName    xml.Name
	Node       string          `xml:"node,attr,omitempty"`
	Identities []discoIdentity `xml:"identity"`
	Features   []discoFeature  `xml:"feature"`
	Forms      []dataForm      `xml:"jabber:x:data x"` // XEP-0128, input only
}

type discoIdentity struct {
	Category string `xml:"category,attr"`
	Type     string `xml:"type,attr"`
	Name     string `xml:"name,attr,omitempty"`
	Lang     string `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
}

type discoFeature struct {
	Var string `xml:"var,attr"`
}

// identity is the gateway domain's identity; user JIDs inside it are phones.
func (a *Adapter) identity(to jid.JID) discoIdentity {
	if a.cfg.ComponentMode() && to.Localpart() == "" {
		return discoIdentity{Category: "gateway", Type: "sip", Name: "sigbridge"}
	}
	return discoIdentity{Category: "client", Type: "phone", Name: "sigbridge"}
}

// discoInfo answers disco#info for any JID of ours (and our caps node).
func (a *Adapter) discoInfo(to jid.JID, node string) xml.TokenReader {
	q := discoQuery{XMLName: xml.Name{Space: nsDiscoInfo, Local: "query"}, Node: node,
		Identities: []discoIdentity{a.identity(to)}}
	for _, f := range Features {
		q.Features = append(q.Features, discoFeature{Var: f})
	}
	r, err := tokens(q)
	if err != nil {
		return nil
	}
	return r
}

func discoItems(node string) xml.TokenReader {
	q := discoQuery{XMLName: xml.Name{Space: nsDiscoItems, Local: "query"}, Node: node}
	r, _ := tokens(q)
	return r
}

// capsVer computes the XEP-0115 verification string of a user JID's
// disco#info (identity client/phone and Features).
func capsVer() string {
	feats := append([]string(nil), Features...)
	sort.Strings(feats)
	var b strings.Builder
	b.WriteString("client/phone//sigbridge<")
	for _, f := range feats {
		b.WriteString(f + "<")
	}
	sum := sha1.Sum([]byte(b.String())) // #nosec G401
	return base64.StdEncoding.EncodeToString(sum[:])
}

// available is an available presence from a gateway JID with our caps.
func (a *Adapter) available(from, to jid.JID) xml.TokenReader {
	caps := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsCaps, Local: "c"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "hash"}, Value: "sha-1"},
		{Name: xml.Name{Local: "node"}, Value: capsNode},
		{Name: xml.Name{Local: "ver"}, Value: a.caps},
	}})
	return stanza.Presence{From: from, To: to}.Wrap(caps)
}
