package interop

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// onInfo takes DTMF in SIP INFO (application/dtmf-relay "Signal=1",
// application/dtmf "1") as an EvDTMF event and answers 200; any other
// INFO gets 415, as the gateway's own SIP side does.
func (a *sipAgent) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	digit, ok := infoDigit(ct, string(req.Body()))
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	a.ev.Add(Event{Kind: EvDTMF, Detail: digit})
}

// infoDigit reads the digit of a DTMF INFO body.
func infoDigit(contentType, body string) (string, bool) {
	switch contentType {
	case "application/dtmf":
		d := strings.TrimSpace(body)
		return d, len(d) == 1
	case "application/dtmf-relay":
		for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				d := strings.ToUpper(strings.TrimSpace(v))
				return d, len(d) == 1
			}
		}
	}
	return "", false
}

// SendDTMF implements dtmfSignaler: one INFO application/dtmf-relay per
// digit in the call's dialog, each after the previous one got 200.
func (a *sipAgent) SendDTMF(ctx context.Context, digits string) error {
	a.mu.Lock()
	out, in := a.out, a.in
	a.mu.Unlock()
	for _, d := range digits {
		var contact *sip.ContactHeader
		var do func(context.Context, *sip.Request) (*sip.Response, error)
		switch {
		case out != nil:
			contact, do = out.InviteResponse.Contact(), out.Do
		case in != nil:
			contact, do = in.InviteRequest.Contact(), in.Do
		}
		if contact == nil {
			return errors.New("interop: no answered call (with a Contact) to send DTMF in")
		}
		req := sip.NewRequest(sip.INFO, contact.Address)
		req.SetBody([]byte(fmt.Sprintf("Signal=%c\r\nDuration=100\r\n", d)))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		res, err := do(ctx, req)
		if err != nil {
			return fmt.Errorf("interop: INFO %c: %w", d, err)
		}
		if !res.IsSuccess() {
			return fmt.Errorf("interop: INFO %c: %d %s", d, res.StatusCode, res.Reason)
		}
	}
	return nil
}
