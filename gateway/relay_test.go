package gateway

import (
	"errors"
	"testing"
)

// TestRelayCall: a relay call hands its leg's events and outside
// hang-ups to its Relay, in order, and refuses events once ended.
func TestRelayCall(t *testing.T) {
	var posted []Event
	var hungUp []Reason
	c := NewRelayCall("id1", "alice", Target{Scheme: SchemeUser, User: "bob"}, nil, Relay{
		Post:   func(ev Event) error { posted = append(posted, ev); return nil },
		Hangup: func(r Reason) { hungUp = append(hungUp, r) },
	})
	if !c.IsRelay() || c.ID() != "id1" || c.From() != "alice" || c.Target().User != "bob" {
		t.Fatalf("relay call %+v", c)
	}
	leg := newTestLeg("ws", Caps{})
	if err := c.Post(leg, Ringing{Code: 180}); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(leg, Hangup{}); err != nil {
		t.Fatal(err)
	}
	if len(posted) != 2 || posted[0].EventName() != "ringing" || posted[1].EventName() != "hangup" {
		t.Fatalf("posted %v", posted)
	}
	c.Hangup(ReasonShutdown)
	if len(hungUp) != 1 || hungUp[0] != ReasonShutdown {
		t.Fatalf("hung up %v", hungUp)
	}
	c.EndRelay()
	c.EndRelay()
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	if err := c.Post(leg, Ringing{}); !errors.Is(err, ErrCallEnded) {
		t.Fatalf("post after end: %v", err)
	}
	if len(posted) != 2 {
		t.Fatal("an event reached the relay after the end")
	}
}
