package interop

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// EventKind is a signaling milestone an agent observed.
type EventKind string

// Event kinds.
const (
	EvIncoming   EventKind = "incoming"   // callee: a call (its first offer) arrived
	EvRinging    EventKind = "ringing"    // caller: the callee rings
	EvAnswered   EventKind = "answered"   // caller: the first answer arrived
	EvReoffer    EventKind = "reoffer"    // callee: a re-offer arrived and was answered
	EvReanswered EventKind = "reanswered" // caller: the answer to a re-offer arrived
	EvEnded      EventKind = "ended"      // the call was ended by the other side or the gateway
	EvError      EventKind = "error"      // the gateway reported an error
)

// Event is one milestone. Reason is a Jingle condition ("busy", "gone"),
// Code a SIP status; Detail carries the directions of a re-offer or answer
// ("sendonly,sendonly").
type Event struct {
	Kind   EventKind
	Reason string
	Code   int
	Detail string
	At     time.Time
}

func (e Event) String() string {
	s := string(e.Kind)
	if e.Reason != "" || e.Code != 0 {
		s += fmt.Sprintf(" %s/%d", e.Reason, e.Code)
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Agent is one party of a call: a client of one dialect driving one media
// end. The engine drives it: a caller Calls, a callee waits for
// EvIncoming and then Rings, Answers or Rejects; either side may HangUp.
// Every method that talks to the gateway takes a context and returns
// once the message is sent (not when it is answered: the engine waits for
// events).
type Agent interface {
	// Address is what a caller dials to reach this agent through the gateway.
	Address() string
	// Call sends the first offer to target.
	Call(ctx context.Context, target string) error
	// Ring tells the caller the callee is alerting.
	Ring(ctx context.Context) error
	// Answer accepts the incoming call.
	Answer(ctx context.Context) error
	// Reject refuses the incoming call as Busy or Declined.
	Reject(ctx context.Context, why Outcome) error
	// HangUp ends the call (before the answer, from the caller: cancels).
	HangUp(ctx context.Context) error
	// Reoffer renegotiates with every media stream in direction dir
	// ("sendonly" to hold, "sendrecv" to resume).
	Reoffer(ctx context.Context, dir string) error
	// Vanish drops the signaling connection and the media without a word.
	Vanish() error
	// Events is the agent's event log.
	Events() *EventLog
	// Media is the agent's media end, nil for signaling-only agents.
	Media() MediaEnd
	// Close releases everything; it is safe to call more than once.
	Close() error
}

// MediaEnd is what the engine asks a media end.
type MediaEnd interface {
	// Report returns what the end counted so far.
	Report(ctx context.Context) (MediaReport, error)
}

// EventLog keeps every event of an agent; Wait finds them in order.
type EventLog struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{}
	closed  error
}

// NewEventLog returns an empty log.
func NewEventLog() *EventLog { return &EventLog{changed: make(chan struct{})} }

// Add appends an event (stamped now if At is zero).
func (l *EventLog) Add(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	l.signalLocked()
}

// Close marks the log closed: Wait then fails once no match is left.
func (l *EventLog) Close(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed == nil {
		l.closed = err
		l.signalLocked()
	}
}

func (l *EventLog) signalLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// All returns a copy of the events.
func (l *EventLog) All() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// Wait returns the first event at or after index from that matches, and
// its index.
func (l *EventLog) Wait(ctx context.Context, from int, match func(Event) bool) (Event, int, error) {
	for {
		l.mu.Lock()
		for i := from; i < len(l.events); i++ {
			if match(l.events[i]) {
				e := l.events[i]
				l.mu.Unlock()
				return e, i, nil
			}
		}
		closed, changed := l.closed, l.changed
		l.mu.Unlock()
		if closed != nil {
			return Event{}, -1, closed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Event{}, -1, ctx.Err()
		}
	}
}

// Find returns the first event of kind k at or after index from.
func (l *EventLog) Find(from int, k EventKind) (Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.events); i++ {
		if l.events[i].Kind == k {
			return l.events[i], true
		}
	}
	return Event{}, false
}

// Len returns the number of events.
func (l *EventLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// is matches events of the given kinds.
func is(kinds ...EventKind) func(Event) bool {
	return func(e Event) bool { return slices.Contains(kinds, e.Kind) }
}
