package sip

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/emiago/sipgo/sip"
)

// TestCloneFromAsHeaderClone checks cloneFrom and cloneTo against sipgo's
// HeaderClone: equal values, nothing shared with the original, one
// allocation fewer.
func TestCloneFromAsHeaderClone(t *testing.T) {
	uris := []sip.Uri{
		{Scheme: "sip", User: "alice", Host: "gw.example", Port: 5070},
		{Scheme: "sips", User: "bob", Host: "h", UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}},
			Headers: sip.HeaderParams{{K: "x", V: "y"}}},
	}
	for _, u := range uris {
		for _, params := range []sip.HeaderParams{nil, {}, {{K: "tag", V: "abc"}, {K: "x", V: ""}}} {
			from := &sip.FromHeader{DisplayName: "A", Address: u, Params: params}
			to := &sip.ToHeader{DisplayName: "B", Address: u, Params: params}
			gf, gt := cloneFrom(from), cloneTo(to)
			if !reflect.DeepEqual(&gf, sip.HeaderClone(from)) || !reflect.DeepEqual(&gt, sip.HeaderClone(to)) {
				t.Fatalf("%v %v: clones differ from HeaderClone's", u, params)
			}
			if len(params) > 0 && &gf.Params[0] == &from.Params[0] {
				t.Fatal("cloneFrom shares the parameters")
			}
			if len(u.UriParams) > 0 && &gt.Address.UriParams[0] == &to.Address.UriParams[0] {
				t.Fatal("cloneTo shares the URI parameters")
			}
		}
	}
	from := &sip.FromHeader{Address: uris[1], Params: sip.HeaderParams{{K: "tag", V: "abc"}}}
	var sink sip.FromHeader
	got := testing.AllocsPerRun(100, func() { sink = cloneFrom(from) })
	was := testing.AllocsPerRun(100, func() { sink = *sip.HeaderClone(from).(*sip.FromHeader) })
	_ = sink
	if got != was-1 {
		t.Fatalf("cloneFrom allocates %v times, HeaderClone and copy %v", got, was)
	}
}

// TestBuildHeadersTogether checks that dialogState.build allocates a
// request's CSeq and Max-Forwards together (requestHeaders): they were
// two allocations for every BYE, probe and INFO.
func TestBuildHeadersTogether(t *testing.T) {
	d := &dialogState{a: &Adapter{}, callID: "c1", transport: "UDP",
		from: sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: "a"}, Params: sip.HeaderParams{{K: "tag", V: "1"}}},
		to:   sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: "b"}, Params: sip.HeaderParams{{K: "tag", V: "2"}}}}
	req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", Host: "b"})
	d.build(req, 7)
	if req.CSeq().SeqNo != 7 || req.CSeq().MethodName != sip.BYE || *req.MaxForwards() != 70 {
		t.Fatalf("CSeq %v, Max-Forwards %v", req.CSeq(), req.MaxForwards())
	}
	off := uintptr(unsafe.Pointer(req.MaxForwards())) - uintptr(unsafe.Pointer(req.CSeq()))
	if off != unsafe.Offsetof(requestHeaders{}.maxFwd) {
		t.Fatal("CSeq and Max-Forwards allocated apart")
	}
	want := "BYE sip:b SIP/2.0\r\nFrom: <sip:a>;tag=1\r\nTo: <sip:b>;tag=2\r\nCall-ID: c1\r\nCSeq: 7 BYE\r\nMax-Forwards: 70\r\n\r\n"
	if got := req.String(); got != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
}
