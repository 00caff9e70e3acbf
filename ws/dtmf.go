package ws

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// The dtmf extension: out-of-band digits both ways.
//
//	{"type":"dtmf","target":"bob","digits":"123#","duration":100}
//
// A client sends it in an answered call; the gateway relays it (SIP INFO
// toward SIP). Extension clients receive the digits the other side sent.

const (
	typeDTMF = "dtmf"

	dtmfDigits      = "0123456789*#ABCD"
	maxDTMFDigits   = 32
	dtmfMinMillis   = 40
	dtmfMaxMillis   = 6000
	dtmfDefaultMsec = 100
)

// dtmfMsg is the dtmf message the gateway sends.
type dtmfMsg struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Target   string `json:"target"`
	CallID   string `json:"callId,omitempty"`
	Digits   string `json:"digits"`
	Duration int    `json:"duration"`
}

// setDigits accepts 1-32 of 0-9 * # A-D (a-d taken as A-D).
func setDigits(m *clientMessage, raw json.RawMessage) error {
	s, ok := jsonString(raw)
	if ok {
		s = strings.ToUpper(s)
	}
	if !ok || s == "" || len(s) > maxDTMFDigits || strings.Trim(s, dtmfDigits) != "" {
		return badType("digits", "1-32 of 0-9 * # A-D")
	}
	m.Digits = s
	return nil
}

// setDuration accepts whole milliseconds, 40-6000.
func setDuration(m *clientMessage, raw json.RawMessage) error {
	n, ok := jsonInt(raw, dtmfMinMillis, dtmfMaxMillis)
	if !ok {
		return badType("duration", "an integer number of milliseconds between 40 and 6000")
	}
	m.Duration = n
	return nil
}

// dtmfEvent is the gateway event of a client's dtmf message.
func dtmfEvent(m *clientMessage) gateway.DTMF {
	ms := m.Duration
	if ms == 0 {
		ms = dtmfDefaultMsec
	}
	return gateway.DTMF{Digits: m.Digits, Duration: time.Duration(ms) * time.Millisecond}
}

// renderDTMF: only extension clients get dtmf; the digits are checked again
// (they may come from any dialect) and the duration clamped.
func (l *leg) renderDTMF(e gateway.DTMF) []byte {
	if !l.c.ext.Load() || e.Digits == "" || len(e.Digits) > maxDTMFDigits || strings.Trim(e.Digits, dtmfDigits) != "" {
		return nil
	}
	ms := int(e.Duration.Milliseconds())
	if ms == 0 {
		ms = dtmfDefaultMsec
	}
	ms = min(max(ms, dtmfMinMillis), dtmfMaxMillis)
	return encode(dtmfMsg{Type: typeDTMF, Name: l.peer, Target: l.self, CallID: l.callID, Digits: e.Digits, Duration: ms})
}
