package sip

import (
	"errors"
	"fmt"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// uasInvite is what an inbound leg needs of its INVITE until the dialog is
// confirmed: the INVITE as its responses are built from (with our To tag),
// its server transaction, and whether that transaction ended or the INVITE
// was cancelled before our answer.
//
// It replaces sipgo's DialogServerSession (DialogUA.ReadInvite), which
// copies the whole INVITE (every header parsed again into new values, and
// the SDP) to add our To tag, and registers callbacks on the transaction
// that hold that copy, the session and our last response for as long as
// the transaction lives: Timer L, a second after our 2xx (timerl.go). At
// 3,000 SIP → browser calls/s that was 3,000 copies of INVITEs whose calls
// were long confirmed. Here:
//
//   - the INVITE with our To tag is a view of the received one: a request
//     holding the same header values (which nothing changes: responses
//     clone what they copy) but a To of its own, no body (no response
//     copies it);
//   - the callbacks on the transaction hold only ended, a channel;
//   - the responses are sipgo's: Contact defaulting to the user agent's,
//     and a non-2xx final answer waits for its ACK (or the transaction's
//     end) as DialogServerSession.WriteResponse does.
type uasInvite struct {
	req     *sip.Request // the INVITE with our To tag, without its body
	tag     string       // our To tag
	tx      sip.ServerTransaction
	contact *sip.ContactHeader // the user agent's, for responses without one
	ended   *txEnded
}

// txEnded is closed once the INVITE's transaction ended or a CANCEL of it
// came (sipgo's session context ended then too).
type txEnded struct {
	once sync.Once
	ch   chan struct{}
}

func (e *txEnded) end() { e.once.Do(func() { close(e.ch) }) }

// errInviteNoContact: an INVITE without a Contact cannot make a dialog
// (RFC 3261 §12.1.1); refused 400 as sipgo's ReadInvite did.
var errInviteNoContact = errors.New("sip: INVITE has no Contact")

// readInvite makes the uasInvite of req, an initial INVITE received in tx,
// with a new To tag (newTag, as our From tags); ua is the dialog user agent (its Contact).
func readInvite(ua *sipgo.DialogUA, req *sip.Request, tx sip.ServerTransaction) (*uasInvite, error) {
	if req.Contact() == nil {
		return nil, errInviteNoContact
	}
	to := req.To()
	if req.CSeq() == nil || to == nil || req.CallID() == nil {
		return nil, errors.New("sip: INVITE without CSeq, To or Call-ID")
	}
	s := &uasInvite{tag: newTag(), tx: tx, contact: &ua.ContactHDR, ended: &txEnded{ch: make(chan struct{})}}
	s.req = taggedView(req, s.tag)
	ended := s.ended // the callbacks hold this, not s (nor the INVITE)
	if !tx.OnCancel(func(*sip.Request) { ended.end() }) || !tx.OnTerminate(func(string, error) { ended.end() }) {
		if err := tx.Err(); err != nil {
			return nil, fmt.Errorf("sip: INVITE transaction: %w", err)
		}
		return nil, errors.New("sip: INVITE transaction already ended")
	}
	return s, nil
}

// taggedView is req with a To of its own carrying tag; every other header
// value is req's own (shared, read only), the body is left out.
func taggedView(req *sip.Request, tag string) *sip.Request {
	v := sip.NewRequest(req.Method, req.Recipient)
	v.SipVersion = req.SipVersion
	for _, h := range req.Headers() {
		if to, ok := h.(*sip.ToHeader); ok {
			c := sip.HeaderClone(to).(*sip.ToHeader)
			c.Params.Add("tag", tag)
			h = c
		}
		v.AppendHeader(h)
	}
	v.SetTransport(req.Transport())
	v.SetSource(req.Source())
	v.SetDestination(req.Destination())
	return v
}

// done is closed when the INVITE's transaction ended or was cancelled.
func (s *uasInvite) done() <-chan struct{} { return s.ended.ch }

// Respond answers the INVITE with code, as sipgo's session did: a
// provisional or 2xx goes out, a non-2xx final one then waits for its ACK
// or the transaction's end.
func (s *uasInvite) Respond(code int, reason string, body []byte, hdrs ...sip.Header) error {
	res := sip.NewResponseFromRequest(s.req, code, reason, body) // our To tag in it
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return s.write(res)
}

// write sends res in the INVITE's transaction (Respond).
func (s *uasInvite) write(res *sip.Response) error {
	if res.Contact() == nil {
		res.AppendHeader(s.contact)
	}
	select {
	case <-s.tx.Done():
		return s.tx.Err()
	default:
	}
	if err := s.tx.Respond(res); err != nil {
		return err
	}
	if res.IsProvisional() || res.IsSuccess() {
		return nil
	}
	select { // the ACK of a non-2xx answer, for a clean end
	case <-s.tx.Acks():
	case <-s.tx.Done():
	}
	return nil
}
