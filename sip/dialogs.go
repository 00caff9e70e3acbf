package sip

import (
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// dialogLeg is a leg as the request handlers see it.
type dialogLeg interface {
	push(x any) error
	onAck(req *sip.Request, tx sip.ServerTransaction)
	doneCh() <-chan struct{}
}

// dialogTable maps established dialogs to their legs, and remembers the
// Call-IDs of our outbound legs for loop detection, and the dialogs that
// ended lately. Safe for concurrent use.
type dialogTable struct {
	mu    sync.Mutex
	legs  map[string]dialogLeg
	out   map[string]*outLeg // by Call-ID, from the INVITE until the leg ends
	ended genSet             // memoHash of the keys of dialogs the peer's BYE ended in the last 32-40 s
}

// Bounds of the memo of ended dialogs: a BYE retransmitted after its
// transaction ended (Timer J, timerl.go) gets 200 again, not 481. A
// dialog is held as the memoHash of its key in a genSet (memo.go): 11-16
// bytes, nothing the garbage collector scans. A BYE in a dialog we do not
// have whose key's hash collides with an ended one's (below 2^-45 per
// BYE) gets 200 instead of 481: either way its sender ends the dialog.
const (
	endedSpan = 32 * time.Second // a key lives 32-40 s (Timer F is 32 s)
	endedMax  = 1 << 17          // dialogs per span
)

func newDialogTable() *dialogTable {
	return &dialogTable{legs: map[string]dialogLeg{}, out: map[string]*outLeg{},
		ended: genSet{span: endedSpan, max: endedMax}}
}

// dialogKey identifies a dialog from our side: Call-ID, our tag, their tag.
func dialogKey(callID, localTag, remoteTag string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag
}

// requestKey is the dialog key of a request we received: its To tag is ours.
func requestKey(req *sip.Request) (string, bool) {
	cid, to, from := req.CallID(), req.To(), req.From()
	if cid == nil || to == nil || from == nil {
		return "", false
	}
	local, ok1 := to.Params.Get("tag")
	remote, ok2 := from.Params.Get("tag")
	if !ok1 || !ok2 || local == "" {
		return "", false
	}
	return dialogKey(cid.Value(), local, remote), true
}

func (t *dialogTable) add(key string, l dialogLeg) {
	t.mu.Lock()
	t.legs[key] = l
	t.mu.Unlock()
}

// remove forgets the dialog of key; byeIn (the peer ended it with a BYE
// we answered) remembers it among the dialogs ended lately, for that BYE's
// retransmissions. A dialog we ended is not remembered: the peer sent no
// BYE to retransmit, and a browser → SIP call would hold 32-40 s of keys
// for nothing (about 15 MB at 1,500 calls/s).
func (t *dialogTable) remove(key string, byeIn bool) {
	t.mu.Lock()
	_, ok := t.legs[key]
	delete(t.legs, key)
	t.mu.Unlock()
	if ok && byeIn {
		t.ended.put(memoHash(key), false, time.Now())
	}
}

// endedLately reports whether req is in a dialog removed in the last
// 32-40 s.
func (t *dialogTable) endedLately(req *sip.Request) bool {
	key, ok := requestKey(req)
	if !ok {
		return false
	}
	_, ok = t.ended.get(memoHash(key), time.Now())
	return ok
}

// findResponse returns the dialog of a response to a request we sent in
// it: its From tag is ours.
func (t *dialogTable) findResponse(res *sip.Response) dialogLeg {
	cid, to, from := res.CallID(), res.To(), res.From()
	if cid == nil || to == nil || from == nil {
		return nil
	}
	local, _ := from.Params.Get("tag")
	remote, _ := to.Params.Get("tag")
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.legs[dialogKey(cid.Value(), local, remote)]
}

func (t *dialogTable) find(req *sip.Request) dialogLeg {
	key, ok := requestKey(req)
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.legs[key]
}

func (t *dialogTable) addOut(callID string, l *outLeg) {
	t.mu.Lock()
	t.out[callID] = l
	t.mu.Unlock()
}

// outLeg returns the outbound leg whose INVITE has this Call-ID.
func (t *dialogTable) outLeg(callID string) *outLeg {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out[callID]
}

func (t *dialogTable) removeOut(callID string) {
	t.mu.Lock()
	delete(t.out, callID)
	t.mu.Unlock()
}

func (t *dialogTable) isOut(callID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.out[callID]
	return ok
}

func (t *dialogTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.legs)
}
