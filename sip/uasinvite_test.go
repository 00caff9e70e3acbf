package sip

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// callbackTx is a server transaction that keeps the callbacks registered
// on it (as a live transaction does) and records the responses.
type callbackTx struct {
	fakeServerTx
	acks     chan *sip.Request
	onCancel []sip.FnTxCancel
	onTerm   []sip.FnTxTerminate
}

func newCallbackTx() *callbackTx {
	return &callbackTx{fakeServerTx: fakeServerTx{done: make(chan struct{})}, acks: make(chan *sip.Request)} // unbuffered: a send is taken
}

func (c *callbackTx) OnCancel(f sip.FnTxCancel) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onCancel = append(c.onCancel, f)
	return true
}

func (c *callbackTx) OnTerminate(f sip.FnTxTerminate) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onTerm = append(c.onTerm, f)
	return true
}

func (c *callbackTx) Acks() <-chan *sip.Request { return c.acks }

// parseInvite parses raw as a request received over UDP from 127.0.0.1:5070.
func parseInvite(t *testing.T, raw string) *sip.Request {
	t.Helper()
	msg, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource("127.0.0.1:5070")
	req.SetTransport("UDP")
	return req
}

// The INVITE's session answers with one To tag of ours in every response
// and the INVITE's headers otherwise, uses the user agent's Contact when
// a response has none, and leaves the received INVITE as it was.
func TestUASInviteResponses(t *testing.T) {
	ua := &sipgo.DialogUA{ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1", Port: 5060}}}
	req := parseInvite(t, compactRequest("INVITE", "uasinv1", "1"))
	tx := newCallbackTx()
	s, err := readInvite(ua, req, tx)
	if err != nil {
		t.Fatal(err)
	}
	if tag, ok := req.To().Params.Get("tag"); ok {
		t.Fatalf("the received INVITE got To tag %q", tag)
	}
	if err := s.Respond(180, "Ringing", nil); err != nil {
		t.Fatal(err)
	}
	ok := sip.NewSDPResponseFromRequest(s.req, []byte("v=0\r\n"))
	if err := tx.Respond(ok); err != nil {
		t.Fatal(err)
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	for _, res := range tx.responses {
		if tag := toTagOf(res); tag != s.tag || tag == "" {
			t.Errorf("%d has To tag %q, want the session's %q", res.StatusCode, tag, s.tag)
		}
		if res.CallID().Value() != "compact@127.0.0.1" || res.CSeq().SeqNo != 1 || res.Via() == nil {
			t.Errorf("%d lacks the INVITE's Call-ID, CSeq or Via:\n%s", res.StatusCode, res)
		}
		if ft, _ := res.From().Params.Get("tag"); ft != "from1" {
			t.Errorf("%d has From tag %q, want from1", res.StatusCode, ft)
		}
	}
	if c := tx.responses[0].Contact(); c == nil || c.Address.User != "gw" {
		t.Errorf("180 has Contact %v, want the user agent's", c)
	}
	if d := (&Adapter{}).uasDialog(s.req); d.localTag() != s.tag || d.transport != "UDP" {
		t.Errorf("dialog has local tag %q over %q, want %q over UDP", d.localTag(), d.transport, s.tag)
	}
}

// A non-2xx final answer waits for its ACK, as sipgo's session did.
func TestUASInviteNon2xxWaitsForAck(t *testing.T) {
	ua := &sipgo.DialogUA{}
	tx := newCallbackTx()
	s, err := readInvite(ua, parseInvite(t, compactRequest("INVITE", "uasinv2", "1")), tx)
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan error, 1)
	go func() { returned <- s.Respond(486, "Busy Here", nil) }()
	select {
	case err := <-returned:
		t.Fatalf("486 returned before its ACK (%v)", err)
	case tx.acks <- parseInvite(t, compactRequest("ACK", "uasinv2", "1")):
	}
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
}

// The session ends when its transaction is cancelled or ends, and what it
// registers on the transaction, which lives on after the leg let go of the
// session (Timer L, timerl.go), does not keep the INVITE it built its
// responses from.
func TestUASInviteCallbacksKeepNoInvite(t *testing.T) {
	for _, how := range []string{"cancel", "terminate"} {
		t.Run(how, func(t *testing.T) {
			tx := newCallbackTx()
			s, err := readInvite(&sipgo.DialogUA{}, parseInvite(t, compactRequest("INVITE", "uasinv3"+how, "1")), tx)
			if err != nil {
				t.Fatal(err)
			}
			done := s.done()
			released := make(chan struct{})
			var once sync.Once
			runtime.AddCleanup(s.req, func(struct{}) { once.Do(func() { close(released) }) }, struct{}{})
			s = nil
			waitReleased(t, released, "the session's INVITE")
			select {
			case <-done:
				t.Fatal("session ended before its transaction")
			default:
			}
			tx.mu.Lock()
			cancels, terms := tx.onCancel, tx.onTerm
			tx.mu.Unlock()
			if how == "cancel" {
				for _, f := range cancels {
					f(nil)
				}
			} else {
				for _, f := range terms {
					f("key", nil)
				}
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("session not ended by the transaction's %s", how)
			}
			runtime.KeepAlive(tx)
		})
	}
}
