package xmpp

import (
	"encoding/xml"
	"errors"
	"io"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// The JMI elements that carry a reason (reject, retract, finish) put the
// reason, its condition and its text in urn:xmpp:jingle:1, read from the
// token stream handed to mellium (what goes on the wire).
func TestJMIReasonNamespace(t *testing.T) {
	from, to := jid.MustParse("alice@gw.example.org"), jid.MustParse("juliet@example.org/phone")
	cases := []struct {
		name string
		el   jmiElem
		cond string
	}{
		{jmiReject, jmiElem{Reason: jingle.NewReason(jingle.ReasonBusy, "")}, "busy"},
		{jmiRetract, retractReason(gateway.Reason{Condition: gateway.CondTimeout, Text: "no answer"}), "timeout"},
		{jmiRetract, retractReason(gateway.Reason{}), "cancel"},
		{jmiFinish, jmiElem{Reason: jingleReason(gateway.Reason{Condition: gateway.CondSuccess})}, "success"},
	}
	for _, tc := range cases {
		tc.el.ID = "sid1"
		msg, err := jmiMessage(from, to, tc.el, tc.name, "", "")
		if err != nil {
			t.Fatal(err)
		}
		names := elementNames(t, msg)
		var cond, reason, text *xml.Name
		for i, n := range names {
			switch {
			case n.Local == "reason":
				reason = &names[i]
			case n.Local == tc.cond:
				cond = &names[i]
			case n.Local == "text":
				text = &names[i]
			}
		}
		if reason == nil || cond == nil {
			t.Fatalf("%s: no reason/%s in %v", tc.name, tc.cond, names)
		}
		if reason.Space != jingle.NSJingle || cond.Space != jingle.NSJingle {
			t.Errorf("%s: reason in %q, condition %s in %q; want %s", tc.name, reason.Space, cond.Local, cond.Space, jingle.NSJingle)
		}
		if text != nil && text.Space != jingle.NSJingle {
			t.Errorf("%s: text in %q", tc.name, text.Space)
		}
	}
}

// elementNames returns the names of every start element of a token stream.
func elementNames(t *testing.T, r xml.TokenReader) []xml.Name {
	t.Helper()
	var out []xml.Name
	for {
		tok, err := r.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			out = append(out, se.Name)
		}
	}
}
