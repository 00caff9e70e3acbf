package xmpp

import (
	"crypto/sha1" // #nosec G505 -- XEP-0115 mandates SHA-1 for the caps hash
	"encoding/base64"
	"sort"
	"strings"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// What the gateway learns from a peer's entity capabilities (XEP-0115) and
// disco#info answers: whether a device takes Jingle RTP sessions and
// whether it does JMI (XEP-0353).

// capsIn is the <c xmlns='http://jabber.org/protocol/caps'/> of a presence.
type capsIn struct {
	Hash string `xml:"hash,attr"`
	Node string `xml:"node,attr"`
	Ver  string `xml:"ver,attr"`
}

// maxCapsVer bounds a ver (a base64 SHA-1 is 28 bytes).
const maxCapsVer = 128

// usable reports whether the caps can key the cache: a sha-1 hash (the
// only one we verify) and a sane ver and node.
func (c *capsIn) usable() bool {
	return c != nil && c.Hash == "sha-1" && c.Ver != "" && len(c.Ver) <= maxCapsVer &&
		len(c.Node) <= 1024 && !strings.ContainsAny(c.Ver+c.Node, "\x00")
}

// features is what a device can do, as far as calls are concerned.
type features struct {
	jingle bool // urn:xmpp:jingle:1
	rtp    bool // urn:xmpp:jingle:apps:rtp:1
	jmi    bool // urn:xmpp:jingle-message:0
}

// direct reports whether the device takes a session-initiate without JMI:
// it does Jingle RTP and does not do JMI (a JMI device gets the propose).
func (f features) direct() bool { return f.jingle && f.rtp && !f.jmi }

func featuresOf(q *discoQuery) features {
	var f features
	for _, v := range q.Features {
		switch v.Var {
		case jingle.NSJingle:
			f.jingle = true
		case jingle.NSRTP:
			f.rtp = true
		case jingle.NSJingleMessage:
			f.jmi = true
		}
	}
	return f
}

// dataForm is an XEP-0128 extended disco#info form (XEP-0004).
type dataForm struct {
	Type   string      `xml:"type,attr"`
	Fields []formField `xml:"field"`
}

type formField struct {
	Var    string   `xml:"var,attr"`
	Values []string `xml:"value"`
}

// verOf computes the XEP-0115 §5.1 verification string of a disco#info
// answer (sha-1). ok is false for an answer that cannot be verified
// (duplicate identities or features, a form without FORM_TYPE).
func verOf(q *discoQuery) (ver string, ok bool) {
	var b strings.Builder
	ids := make([]string, 0, len(q.Identities))
	for _, id := range q.Identities {
		ids = append(ids, id.Category+"/"+id.Type+"/"+id.Lang+"/"+id.Name)
	}
	sort.Strings(ids)
	feats := make([]string, 0, len(q.Features))
	for _, f := range q.Features {
		feats = append(feats, f.Var)
	}
	sort.Strings(feats)
	if hasDup(ids) || hasDup(feats) {
		return "", false
	}
	for _, s := range ids {
		b.WriteString(s + "<")
	}
	for _, s := range feats {
		b.WriteString(s + "<")
	}
	forms, ok := formStrings(q.Forms)
	if !ok {
		return "", false
	}
	for _, s := range forms {
		b.WriteString(s)
	}
	sum := sha1.Sum([]byte(b.String())) // #nosec G401
	return base64.StdEncoding.EncodeToString(sum[:]), true
}

// formStrings returns each form's part of the verification string, sorted
// by FORM_TYPE.
func formStrings(forms []dataForm) ([]string, bool) {
	type keyed struct{ typ, s string }
	var out []keyed
	for _, f := range forms {
		var typ string
		var fields []string
		for _, fl := range f.Fields {
			if fl.Var == "FORM_TYPE" {
				if len(fl.Values) == 0 {
					return nil, false
				}
				typ = fl.Values[0]
				continue
			}
			vals := append([]string(nil), fl.Values...)
			sort.Strings(vals)
			fields = append(fields, fl.Var+"<"+strings.Join(vals, "<")+suffix(len(vals)))
		}
		if typ == "" {
			return nil, false
		}
		sort.Strings(fields)
		out = append(out, keyed{typ, typ + "<" + strings.Join(fields, "")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].typ < out[j].typ })
	s := make([]string, len(out))
	for i, k := range out {
		s[i] = k.s
	}
	return s, true
}

func suffix(n int) string {
	if n == 0 {
		return ""
	}
	return "<"
}

func hasDup(sorted []string) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return true
		}
	}
	return false
}
