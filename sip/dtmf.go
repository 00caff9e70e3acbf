package sip

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// DTMF over SIP INFO, both ways (no Info Package: the legacy
// application/dtmf-relay and application/dtmf bodies every PBX speaks).

const (
	ctDTMFRelay = "application/dtmf-relay"
	ctDTMF      = "application/dtmf"

	dtmfDigits      = "0123456789*#ABCD"
	dtmfDefault     = 100 * time.Millisecond
	dtmfMin         = 40 * time.Millisecond
	dtmfMax         = 6000 * time.Millisecond
	dtmfMaxQueued   = 64 // digits waiting to go out; more are dropped
	dtmfInfoTimeout = 10 * time.Second
)

var errBadDTMF = errors.New("sip: bad DTMF body")

// dtmfOut is the state of digits going out as INFO, one at a time.
type dtmfOut struct {
	queue    []gateway.DTMF // one digit each
	inFlight bool
	infoOnly bool // rtpengine refused play DTMF: INFO for the rest of the call
}

// dtmfResult is the outcome of one INFO we sent, fed back into the leg.
type dtmfResult struct {
	digit  string
	ev     gateway.DTMF
	played bool // through rtpengine (anchored call), not INFO
	res    *sip.Response
	err    error
}

// onInfo answers an in-dialog INFO: DTMF bodies become a DTMF event, an
// empty INFO is a keep-alive (200), a named Info-Package is refused with
// 469, any other body with 415. None of them ends the call.
func (l *legCore) onInfo(r *inRequest) {
	defer r.finish()
	req := r.req
	if req.GetHeader("Info-Package") != nil {
		l.log.Info("INFO package not supported", "package", req.GetHeader("Info-Package").Value())
		l.a.reply(req, r.tx, 469, "Bad Info Package", sip.NewHeader("Recv-Info", ""))
		return
	}
	if len(req.Body()) == 0 {
		l.a.reply(req, r.tx, 200, "OK")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(strings.SplitN(h.Value(), ";", 2)[0]))
	}
	var ev gateway.DTMF
	var err error
	switch ct {
	case ctDTMFRelay:
		ev, err = parseDTMFRelay(req.Body())
	case ctDTMF:
		ev, err = parseDTMFBare(req.Body())
	default:
		l.log.Info("INFO body not supported", "content-type", clipValue(ct))
		l.a.reply(req, r.tx, 415, "Unsupported Media Type", sip.NewHeader("Accept", ctDTMFRelay+", "+ctDTMF))
		return
	}
	if err != nil {
		l.log.Info("INFO refused", "err", err)
		l.a.reply(req, r.tx, 400, "Bad Request", l.a.warning(err.Error()))
		return
	}
	l.a.reply(req, r.tx, 200, "OK")
	l.log.Debug("DTMF received", "digits", ev.Digits, "duration", ev.Duration)
	l.post(ev)
}

func clipValue(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// parseDTMFRelay reads "Signal=1\r\nDuration=160" (keys case-insensitive,
// Duration optional: 100 ms).
func parseDTMFRelay(body []byte) (gateway.DTMF, error) {
	ev := gateway.DTMF{Duration: dtmfDefault}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			d, err := dtmfDigit(v)
			if err != nil {
				return ev, err
			}
			ev.Digits = d
		case "duration":
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return ev, fmt.Errorf("%w: duration %q", errBadDTMF, clipValue(v))
			}
			ev.Duration = clampDuration(time.Duration(ms) * time.Millisecond)
		}
	}
	if ev.Digits == "" {
		return ev, fmt.Errorf("%w: no Signal", errBadDTMF)
	}
	return ev, nil
}

// parseDTMFBare reads an application/dtmf body: one digit.
func parseDTMFBare(body []byte) (gateway.DTMF, error) {
	d, err := dtmfDigit(strings.TrimSpace(string(body)))
	return gateway.DTMF{Digits: d, Duration: dtmfDefault}, err
}

// dtmfDigit accepts one digit, also "10" and "11" for * and # (RFC 4733
// event codes, which some phones put in Signal).
func dtmfDigit(v string) (string, error) {
	switch v = strings.ToUpper(v); {
	case v == "10":
		return "*", nil
	case v == "11":
		return "#", nil
	case len(v) == 1 && strings.Contains(dtmfDigits, v):
		return v, nil
	}
	return "", fmt.Errorf("%w: signal %q", errBadDTMF, clipValue(v))
}

func clampDuration(d time.Duration) time.Duration {
	return min(max(d, dtmfMin), dtmfMax)
}

// queueDTMF queues the digits of ev, one INFO each, and starts sending.
func (l *legCore) queueDTMF(ev gateway.DTMF) {
	d := clampDuration(ev.Duration)
	if ev.Duration == 0 {
		d = dtmfDefault
	}
	for _, c := range ev.Digits {
		if !strings.ContainsRune(dtmfDigits, c) {
			continue
		}
		if len(l.dtmf.queue) >= dtmfMaxQueued {
			l.log.Warn("DTMF queue full; digits dropped")
			break
		}
		l.dtmf.queue = append(l.dtmf.queue, gateway.DTMF{Digits: string(c), Duration: d})
	}
	l.nextDTMF()
}

// nextDTMF sends the next queued digit unless an INFO is in flight.
func (l *legCore) nextDTMF() {
	if l.dtmf.inFlight || len(l.dtmf.queue) == 0 || l.dlg == nil {
		return
	}
	ev := l.dtmf.queue[0]
	l.dtmf.queue = l.dtmf.queue[1:]
	l.dtmf.inFlight = true
	if l.anchor != nil && l.anchor.set.cfg.InjectDTMF && !l.dtmf.infoOnly {
		l.playDTMF(ev)
		return
	}
	l.sendInfo(ev)
}

// playDTMF injects the digit in-band through rtpengine (an anchored call):
// an RFC 4733 telephone-event when the SIP peer negotiated one, else a
// tone. When rtpengine refuses, this digit and every later one of the call
// go as INFO instead.
func (l *legCore) playDTMF(ev gateway.DTMF) {
	x, lctx := l.anchor, l.context()
	go func() {
		ctx, cancel := context.WithTimeout(lctx, 2*x.timeout)
		defer cancel()
		err := x.playDTMF(ctx, ev.Digits, ev.Duration)
		_ = l.push(dtmfResult{digit: ev.Digits, ev: ev, played: true, err: err})
	}()
}

// sendInfo sends one digit as INFO.
func (l *legCore) sendInfo(ev gateway.DTMF) {
	req := sip.NewRequest(sip.INFO, l.remoteTarget)
	req.SetBody(fmt.Appendf(nil, "Signal=%s\r\nDuration=%d\r\n", ev.Digits, ev.Duration.Milliseconds()))
	req.AppendHeader(sip.NewHeader("Content-Type", ctDTMFRelay))
	req.AppendHeader(l.contactHeader())
	lctx := l.context()
	go func() {
		ctx, cancel := context.WithTimeout(lctx, dtmfInfoTimeout)
		defer cancel()
		res, err := l.doInDialog(ctx, req)
		_ = l.push(dtmfResult{digit: ev.Digits, res: res, err: err})
	}()
}

// finishDTMF logs a refused INFO (the call goes on) and sends the next digit.
func (l *legCore) finishDTMF(r dtmfResult) {
	l.dtmf.inFlight = false
	if r.played && r.err != nil {
		l.log.Warn("rtpengine play DTMF failed; sending DTMF as INFO from now on", "digit", r.digit, "err", r.err)
		l.dtmf.infoOnly = true
		l.dtmf.inFlight = true
		l.sendInfo(r.ev)
		return
	}
	switch {
	case r.played:
		l.log.Debug("DTMF played through rtpengine", "digit", r.digit)
	case r.err != nil:
		l.log.Info("DTMF INFO failed", "digit", r.digit, "err", r.err)
	case r.res.StatusCode >= 300:
		l.log.Info("DTMF INFO refused", "digit", r.digit, "status", r.res.StatusCode)
	}
	l.nextDTMF()
}
