package ws

import (
	"fmt"
	"sync"

	"github.com/sigbridge/sigbridge/gateway"
)

// callTable holds the calls of one connection. A call is found by callId
// when the client gives one, else by the peer's address: without callId
// there is exactly one call per (connection, peer), as in the MDN sample.
// The read goroutine, Dial (another connection's read goroutine) and the
// call goroutines (on hang-up) use it, so a mutex guards it; nothing is
// called while holding it.
type callTable struct {
	mu     sync.Mutex
	closed bool
	legs   []*leg
	ids    map[string]*leg // legs with a callId, by it (made at the first)
}

// add registers l. onePerPeer refuses a second call with the same peer
// (ErrBusy), for clients that cannot tell calls apart.
func (t *callTable) add(l *leg, onePerPeer bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("%w: connection closing", gateway.ErrOffline)
	}
	if onePerPeer {
		for _, x := range t.legs {
			if x.peerKey == l.peerKey {
				return fmt.Errorf("%w: already in a call with %s", gateway.ErrBusy, l.peerKey)
			}
		}
	}
	if l.callID != "" {
		if _, dup := t.ids[l.callID]; dup {
			return ErrCallIDInUse
		}
		if t.ids == nil {
			t.ids = make(map[string]*leg)
		}
		t.ids[l.callID] = l
	}
	t.legs = append(t.legs, l)
	return nil
}

// remove drops l and reports whether it was there.
func (t *callTable) remove(l *leg) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.legs {
		if x == l {
			t.legs = append(t.legs[:i], t.legs[i+1:]...)
			if l.callID != "" {
				delete(t.ids, l.callID)
			}
			return true
		}
	}
	return false
}

// find returns the call with callID (and, if peerKey is given, that peer)
// or, without callID, the only call with peerKey.
func (t *callTable) find(callID, peerKey string) (*leg, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if callID != "" {
		return t.byCallID(callID, peerKey)
	}
	var found *leg
	for _, x := range t.legs {
		if x.peerKey != peerKey {
			continue
		}
		if found != nil {
			return nil, errorf(ErrMalformed, "several calls with this target: give callId")
		}
		found = x
	}
	if found == nil {
		return nil, ErrNoSuchCall
	}
	return found, nil
}

// only returns the connection's only call (a hang-up without a target);
// with several it is ambiguous.
func (t *callTable) only() (*leg, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch len(t.legs) {
	case 0:
		return nil, ErrNoSuchCall
	case 1:
		return t.legs[0], nil
	}
	return nil, errorf(ErrMalformed, "several calls and no target: give target or callId")
}

func (t *callTable) byCallID(callID, peerKey string) (*leg, error) {
	x, ok := t.ids[callID]
	if !ok {
		return nil, ErrNoSuchCall
	}
	if peerKey != "" && x.peerKey != peerKey {
		return nil, errorf(ErrMalformed, "target does not match the call")
	}
	return x, nil
}

// count returns the number of calls.
func (t *callTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.legs)
}

// close refuses new calls and returns the current ones.
func (t *callTable) close() []*leg {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	legs := t.legs
	t.legs, t.ids = nil, nil
	return legs
}
