package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestHasCtlMatchesValue: for every typed header checkHeaderBytes meets,
// a control byte in any of its parts is found, as it is in the written
// value, and a clean header is clean, without writing the value.
func TestHasCtlMatchesValue(t *testing.T) {
	uri := func(mut func(*sip.Uri)) sip.Uri {
		u := sip.Uri{Scheme: "sip", User: "alice", Host: "example.com", Port: 5060,
			UriParams: sip.HeaderParams{{K: "transport", V: "udp"}}}
		if mut != nil {
			mut(&u)
		}
		return u
	}
	params := func(k, v string) sip.HeaderParams { return sip.HeaderParams{{K: "tag", V: "a1"}, {K: k, V: v}} }
	const c = "x\ry"
	uriMuts := map[string]func(*sip.Uri){
		"user": func(u *sip.Uri) { u.User = c }, "password": func(u *sip.Uri) { u.Password = c },
		"host": func(u *sip.Uri) { u.Host = c }, "uri param": func(u *sip.Uri) { u.UriParams = params("lr", c) },
		"uri header": func(u *sip.Uri) { u.Headers = sip.HeaderParams{{K: c, V: "1"}} },
		"scheme":     func(u *sip.Uri) { u.Scheme = "si\np" },
	}
	type tc struct {
		name string
		h    sip.Header
		dirt bool
	}
	cases := []tc{
		{"clean From", &sip.FromHeader{DisplayName: "Al", Address: uri(nil), Params: params("x", "1")}, false},
		{"clean To", &sip.ToHeader{Address: uri(nil)}, false},
		{"clean Contact", &sip.ContactHeader{Address: uri(nil)}, false},
		{"clean Via", &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "h", Port: 1, Params: params("branch", "z9hG4bK1")}, false},
		{"clean CSeq", &sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE}, false},
		{"clean Route", &sip.RouteHeader{Address: uri(nil)}, false},
		{"clean generic", sip.NewHeader("Subject", "hi"), false},
		{"From display", &sip.FromHeader{DisplayName: c, Address: uri(nil)}, true},
		{"To param", &sip.ToHeader{Address: uri(nil), Params: params("x", c)}, true},
		{"Contact param key", &sip.ContactHeader{Address: uri(nil), Params: params(c, "")}, true},
		{"Via host", &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: c}, true},
		{"Via transport", &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: c, Host: "h"}, true},
		{"Via param", &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "h", Params: params("branch", c)}, true},
		{"CSeq method", &sip.CSeqHeader{SeqNo: 1, MethodName: sip.RequestMethod(c)}, true},
		{"generic", sip.NewHeader("Subject", c), true},
	}
	for name, mut := range uriMuts {
		cases = append(cases,
			tc{"From uri " + name, &sip.FromHeader{Address: uri(mut)}, true},
			tc{"Record-Route uri " + name, &sip.RecordRouteHeader{Address: uri(mut)}, true})
	}
	for _, k := range cases {
		if got := hasCtl(k.h, "\x00\r\n"); got != k.dirt {
			t.Errorf("%s: hasCtl %v, want %v (value %q)", k.name, got, k.dirt, k.h.Value())
		}
		if byValue := strings.ContainsAny(k.h.Value(), "\x00\r\n"); byValue != k.dirt {
			t.Errorf("%s: the written value disagrees: %q", k.name, k.h.Value())
		}
	}
	if hasCtl(&sip.FromHeader{DisplayName: "a\x00b", Address: uri(nil)}, "\r\n") {
		t.Error("NUL in From's display name is allowed (RFC 4475) but was flagged")
	}
}
