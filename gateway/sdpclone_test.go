package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
)

// TestCloneSDPIndependent checks that the m-lines of a clone share no
// memory with the original or with each other, though their slices are cut
// from shared backing arrays: appending within and beyond the spare room,
// deleting formats in place (what xmpp's sdpedit does) and changing fields
// touch nothing else.
func TestCloneSDPIndependent(t *testing.T) {
	sd := loadSDP(t, "chrome156_offer_av_dc_initial.sdp")
	want := MarshalSDP(sd)
	c := CloneSDP(sd)
	if got := MarshalSDP(c); got != want {
		t.Fatalf("clone:\n%s\nwant:\n%s", got, want)
	}
	if len(c.MediaDescriptions) < 2 {
		t.Fatal("the fixture needs two m-lines")
	}
	second := MarshalSDP(&sdp.SessionDescription{MediaDescriptions: c.MediaDescriptions[1:]})
	m := c.MediaDescriptions[0]
	for i := range cloneAttrRoom + 3 { // within the room, then beyond it
		m.Attributes = append(m.Attributes, sdp.NewAttribute("candidate", strings.Repeat("x", i+1)))
	}
	m.MediaName.Formats = slices.DeleteFunc(m.MediaName.Formats, func(string) bool { return true })
	m.MediaName.Formats = append(m.MediaName.Formats, "127")
	m.MediaName.Port.Value = 1
	c.Attributes = append(c.Attributes, sdp.NewAttribute("x", "y"))
	if got := MarshalSDP(sd); got != want {
		t.Errorf("the original changed:\n%s", got)
	}
	if got := MarshalSDP(&sdp.SessionDescription{MediaDescriptions: c.MediaDescriptions[1:]}); got != second {
		t.Errorf("the second m-line of the clone changed:\n%s\nwant:\n%s", got, second)
	}
}

// TestCloneSDPEmptyFormats keeps a clone's empty format list nil, as the
// copy by append did.
func TestCloneSDPEmptyFormats(t *testing.T) {
	sd := &sdp.SessionDescription{MediaDescriptions: []*sdp.MediaDescription{
		{MediaName: sdp.MediaName{Media: "audio", Formats: []string{}}}, {}}}
	for i, m := range CloneSDP(sd).MediaDescriptions {
		if m.MediaName.Formats != nil {
			t.Errorf("m-line %d: formats %#v", i, m.MediaName.Formats)
		}
	}
}

// TestRemoveOptionAgrees checks removeOption against what it replaced:
// the options split on white space, w removed, joined by single spaces.
func TestRemoveOptionAgrees(t *testing.T) {
	old := func(v, w string) string {
		var out []string
		for _, f := range strings.Fields(v) {
			if f != w {
				out = append(out, f)
			}
		}
		return strings.Join(out, " ")
	}
	for _, v := range []string{"", " ", "trickle", " trickle ", "trickle renomination", "renomination trickle",
		"renomination", "renomination  ice2", " renomination", "renomination ", "a\ttrickle\tb", "a\tb",
		"trickle trickle", "tricklex", "a trickle b trickle c", "a\u00a0b", "a\u00a0trickle"} {
		if got, want := removeOption(v, "trickle"), old(v, "trickle"); got != want {
			t.Errorf("removeOption(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestForwardedSDPSharedOnlyWhenUnchanged checks when the bridge hands the
// callee the offer the caller posted instead of a copy (Caps.ReadsSDP):
// only when the callee only reads SDPs and there is nothing to change in
// it. Whatever the callee gets, the posted offer stays as it was (the
// caller does not give it up).
func TestForwardedSDPSharedOnlyWhenUnchanged(t *testing.T) {
	const file = "chrome156_offer_av_dc_gathered.sdp" // mDNS candidates, a=ice-options:trickle
	want := MarshalSDP(loadSDP(t, file))
	for _, tc := range []struct {
		name     string
		caps     Caps
		shared   bool
		keepMDNS bool
	}{
		{"reads, trickles, mDNS", Caps{Trickle: true, MDNS: true, ReadsSDP: true}, true, true},
		{"reads, trickles, no mDNS", Caps{Trickle: true, ReadsSDP: true}, false, false},
		{"reads, no trickle", Caps{MDNS: true, ReadsSDP: true}, false, true},
		{"browser", browserCaps, false, true},
		{"SIP", sipCaps, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRouter()
			callee := newTestLeg("callee", tc.caps)
			r.Handle(SchemeUser, fixedDialer(callee))
			gw := New(Config{GatherMax: 30 * time.Millisecond}, r, nil, NewMetrics(nil))
			posted := loadSDP(t, file)
			call, err := gw.Place(context.Background(), PlaceRequest{Caller: newTestLeg("caller", browserCaps),
				From: "alice", Target: "bob", Offer: posted})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { call.Hangup(ReasonShutdown); <-call.Done() })
			got := nextAs[Offer](t, callee).SDP
			if (got == posted) != tc.shared {
				t.Errorf("callee got the posted SDP itself: %v, want %v", got == posted, tc.shared)
			}
			if has := hasMDNS(got); has != tc.keepMDNS {
				t.Errorf("callee's SDP has mDNS candidates: %v, want %v", has, tc.keepMDNS)
			}
			if s := MarshalSDP(posted); s != want {
				t.Errorf("the posted offer changed:\n%s", s)
			}
		})
	}
}

// TestForwardedSDPGivenUp checks a caller that gives up the SDPs it posts
// (Caps.GivesSDP, the browser leg): the bridge changes the posted offer
// itself for a SIP callee (half trickle: mDNS candidates dropped, the
// trickled candidates and a=end-of-candidates folded in) instead of a copy,
// unless the callee is a fork, whose branches were dialed with that offer.
func TestForwardedSDPGivenUp(t *testing.T) {
	const file = "chrome156_offer_av_dc_initial.sdp"
	givesCaps := Caps{Trickle: true, MDNS: true, ReadsSDP: true, GivesSDP: true}
	for _, fork := range []bool{false, true} {
		t.Run(map[bool]string{false: "SIP callee", true: "fork of SIP branches"}[fork], func(t *testing.T) {
			r := NewRouter()
			callee := newTestLeg("callee", sipCaps)
			d := fixedDialer(callee)
			if fork {
				other := newTestLeg("callee2", sipCaps)
				d = DialerFunc(func(ctx context.Context, req DialRequest) (Leg, error) {
					return Fork(ctx, req, []Branch{{Name: "a", Dialer: fixedDialer(callee)}, {Name: "b", Dialer: fixedDialer(other)}})
				})
			}
			r.Handle(SchemeUser, d)
			gw := New(Config{GatherMax: 30 * time.Millisecond}, r, nil, NewMetrics(nil))
			posted := loadSDP(t, file)
			caller := newTestLeg("caller", givesCaps)
			call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
				Offer: posted})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { call.Hangup(ReasonShutdown); <-call.Done() })
			for _, c := range loadTrickle(t, "chrome156_trickle_offerer.json") {
				if err := call.Post(caller, c); err != nil {
					t.Fatal(err)
				}
			}
			_ = call.Post(caller, EndOfCandidates{})
			got := nextAs[Offer](t, callee).SDP
			if !HasEndOfCandidates(got) || hasMDNS(got) {
				t.Fatalf("the callee's offer is not complete or has mDNS candidates:\n%s", MarshalSDP(got))
			}
			if (got == posted) == fork {
				t.Errorf("callee got the posted SDP itself: %v, want %v", got == posted, !fork)
			}
			if fork && MarshalSDP(posted) != MarshalSDP(loadSDP(t, file)) {
				t.Error("the offer the fork's branches were dialed with changed")
			}
		})
	}
}
