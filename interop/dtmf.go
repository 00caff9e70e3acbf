package interop

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// EvDTMF: the party got digits as signaling (a SIP INFO, the browser
// dialect's dtmf message); Detail holds them.
const EvDTMF EventKind = "dtmf"

// dtmfDigits are the digits a DTMF step sends.
const dtmfDigits = "159*#0"

// dtmfTimeout bounds the wait for the digits at the callee.
const dtmfTimeout = 15 * time.Second

// toneSender is a media end that plays DTMF in-band: RFC 4733
// telephone-event packets on its audio stream (a pion end, Chromium's
// RTCRtpSender.dtmf). It returns once the digits are sent.
type toneSender interface {
	SendTones(ctx context.Context, digits string) error
}

// dtmfSignaler is an agent that sends digits as signaling: the browser
// dialect's dtmf message, SIP INFO application/dtmf-relay.
type dtmfSignaler interface {
	SendDTMF(ctx context.Context, digits string) error
}

// tones plays dtmfDigits in-band from the caller; the callee's media end
// must read exactly those digits from telephone-event packets.
func (x *execution) tones(ctx context.Context) error {
	ts, ok := x.caller.Media().(toneSender)
	if !ok {
		return failf("the caller (%s) cannot play in-band DTMF", x.s.Caller)
	}
	before, err := x.reports(ctx)
	if err != nil {
		return err
	}
	if err := ts.SendTones(ctx, dtmfDigits); err != nil {
		return &failure{reason: "the caller could not play in-band DTMF", err: err}
	}
	got, err := x.waitDigits(ctx, before[1], -1)
	if err != nil {
		return err
	}
	if !got.inBand {
		return failf("the callee got the in-band digits as signaling (%q), not as telephone-event packets", got.digits)
	}
	return nil
}

// signalDTMF sends dtmfDigits from the caller as signaling; the callee
// must get exactly those digits, as signaling or, where the gateway plays
// them into media it anchors, as telephone-event packets.
func (x *execution) signalDTMF(ctx context.Context) error {
	ds, ok := x.caller.(dtmfSignaler)
	if !ok {
		return failf("the caller (%s) cannot send DTMF as signaling", x.s.Caller)
	}
	before, err := x.reports(ctx)
	if err != nil {
		return err
	}
	from := x.callee.Events().Len()
	if err := ds.SendDTMF(ctx, dtmfDigits); err != nil {
		return &failure{reason: "the caller could not send DTMF", err: err}
	}
	_, err = x.waitDigits(ctx, before[1], from)
	return err
}

// digitsSeen is what the callee got and how.
type digitsSeen struct {
	digits string
	inBand bool
	detail string
}

// waitDigits waits until the callee got dtmfDigits: in-band (counted from
// the baseline report) or, with from ≥ 0, as signaling events from that
// index. The way they came is noted for the result.
func (x *execution) waitDigits(ctx context.Context, base MediaReport, from int) (digitsSeen, error) {
	ctx, cancel := context.WithTimeout(ctx, dtmfTimeout)
	defer cancel()
	var seen digitsSeen
	for {
		r, err := x.callee.Media().Report(ctx)
		if err != nil && ctx.Err() == nil {
			return seen, &failure{reason: "reading the callee's media counts", err: err}
		}
		band := strings.TrimPrefix(r.Tones, base.Tones)
		sig := ""
		if from >= 0 {
			sig = signaledDigits(x.callee.Events(), from)
		}
		switch {
		case band == dtmfDigits:
			seen = digitsSeen{digits: band, inBand: true,
				detail: fmt.Sprintf("in-band: %d telephone-event packets", r.TonePackets-base.TonePackets)}
		case sig == dtmfDigits:
			seen = digitsSeen{digits: sig, detail: "as signaling"}
		case ctx.Err() != nil || x.anyEnded():
			return seen, x.explain(ctx, failf("the callee got DTMF %q in-band (%d telephone-event packets) and %q as signaling, want %q",
				band, r.TonePackets-base.TonePackets, sig, dtmfDigits))
		default:
			select {
			case <-time.After(mediaPoll):
			case <-ctx.Done():
			}
			continue
		}
		x.dtmf = append(x.dtmf, fmt.Sprintf("callee got %q %s", seen.digits, seen.detail))
		x.tr.Add("harness", "note", "DTMF "+seen.detail)
		return seen, nil
	}
}

// signaledDigits joins the digits of the DTMF events from index from on.
func signaledDigits(l *EventLog, from int) string {
	var b strings.Builder
	for i, e := range l.All() {
		if i >= from && e.Kind == EvDTMF {
			b.WriteString(e.Detail)
		}
	}
	return b.String()
}
