package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// has is false only where sipgo's getter finds nothing: typed headers,
// untyped ones of the same name in any case, compact forms; the getters
// wrapped with it answer as sipgo's do.
func TestHasAsGetters(t *testing.T) {
	maxFwd := sip.MaxForwardsHeader(70)
	build := map[string]func(*sip.Request){
		"none":          func(*sip.Request) {},
		"others":        func(r *sip.Request) { r.AppendHeader(sip.NewHeader("Reason", "x")); r.AppendHeader(&maxFwd) },
		"typed":         func(r *sip.Request) { addTypedHeaders(r) },
		"untyped":       func(r *sip.Request) { addUntyped(r, "Via", "CSeq", "Route", "Contact") },
		"untyped lower": func(r *sip.Request) { addUntyped(r, "via", "cseq", "route", "contact") },
		"untyped upper": func(r *sip.Request) { addUntyped(r, "VIA", "CSEQ", "ROUTE", "CONTACT") },
		"compact":       func(r *sip.Request) { addUntyped(r, "v", "", "", "m") },
		"typed removed": func(r *sip.Request) {
			addTypedHeaders(r)
			for _, n := range []string{"Via", "CSeq", "Route", "Contact"} {
				r.RemoveHeader(n)
			}
		},
	}
	for name, add := range build {
		req := sip.NewRequest(sip.ACK, sip.Uri{Scheme: "sip", Host: "h"})
		add(req)
		for _, c := range []struct {
			long, short string
			getter      bool
		}{
			{"via", "v", req.Via() != nil}, {"cseq", "", req.CSeq() != nil},
			{"route", "", req.Route() != nil}, {"contact", "m", req.Contact() != nil},
		} {
			if !has(req, c.long, c.short) && c.getter {
				t.Errorf("%s: has(%s) false, sipgo's getter finds one", name, c.long)
			}
		}
		if cseqOf(req) != req.CSeq() || routeOf(req) != req.Route() {
			t.Errorf("%s: cseqOf %v, routeOf %v; sipgo %v, %v", name, cseqOf(req), routeOf(req), req.CSeq(), req.Route())
		}
	}
	req := sip.NewRequest(sip.ACK, sip.Uri{Scheme: "sip", Host: "h"})
	req.AppendHeader(&maxFwd)
	if n := testing.AllocsPerRun(100, func() { _, _ = cseqOf(req), routeOf(req) }); n != 0 {
		t.Errorf("%v allocations for two misses", n)
	}
}

func addTypedHeaders(r *sip.Request) {
	r.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "h"})
	r.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.ACK})
	r.AppendHeader(&sip.RouteHeader{Address: sip.Uri{Scheme: "sip", Host: "p"}})
	r.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "c"}})
}

func addUntyped(r *sip.Request, via, cseq, route, contact string) {
	for name, value := range map[string]string{via: "SIP/2.0/UDP h;branch=z9hG4bK1", cseq: "1 ACK",
		route: "<sip:p;lr>", contact: "<sip:c>"} {
		if name != "" {
			r.AppendHeader(sip.NewHeader(name, value))
		}
	}
}

// A dialog's ACK is built without sipgo's allocations for the headers it
// does not have yet (the CSeq, Route and Contact dialogState.build asks
// for, the Via addVia asks for), and without a slice of its own for the
// dialog's headers; they come in the same order as when prepended.
func TestDialogAckAllocs(t *testing.T) {
	cli, err := sipgo.NewClient(mustUA(t))
	if err != nil {
		t.Fatal(err)
	}
	a := &Adapter{cli: cli, dua: &sipgo.DialogUA{Client: cli,
		ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "192.0.2.1", Port: 5060}}}}
	d := &dialogState{a: a, transport: "UDP"}
	d.callID = "c1"
	d.from = sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "gw"}, Params: sip.HeaderParams{{K: "tag", V: "1"}}}
	d.to = sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "b", Host: "pbx"}, Params: sip.HeaderParams{{K: "tag", V: "2"}}}
	target := sip.Uri{Scheme: "sip", User: "b", Host: "192.0.2.7", Port: 5070}
	n := testing.AllocsPerRun(100, func() {
		req := sip.NewRequest(sip.ACK, target)
		d.build(req, 1)
		_ = addVia(cli, req)
	})
	if n > maxAckAllocs {
		t.Errorf("%v allocations for an ACK, want at most %d", n, maxAckAllocs)
	}
	for _, pre := range []bool{false, true} { // a new request, and one with headers of its own (a re-INVITE)
		req := sip.NewRequest(sip.ACK, target)
		if pre {
			req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		d.build(req, 1)
		_ = addVia(cli, req)
		var names []string
		for _, h := range req.Headers() {
			names = append(names, h.Name())
		}
		want := []string{"Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"}
		if pre {
			want = append(want, "Content-Type")
		}
		want = append(want, "Contact", "Content-Length")
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("headers %v, want %v", names, want)
		}
	}
}

// maxAckAllocs are the allocations TestDialogAckAllocs allows: those of
// what the ACK holds (the request, its headers, the Contact's clone,
// sipgo's Via with its branch, sipgo's own Via lookup, the slice sipgo's
// Via prepending makes), none for a question answered no (19 when sipgo's
// getters were asked directly), no slice made to prepend the dialog's
// headers to a new request (15 when they were).
const maxAckAllocs = 13

func mustUA(t *testing.T) *sipgo.UserAgent {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return ua
}
