package pionpeer

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// MimeTypeTelephoneEvent is the RFC 4733 payload format of DTMF digits.
const MimeTypeTelephoneEvent = "audio/telephone-event"

// Payload types the telephone-event formats are registered with: those
// Chromium offers (110 at Opus' 48 kHz, 126 at 8 kHz).
const (
	TelephoneEvent48kPT = 110
	TelephoneEvent8kPT  = 126
)

// eventDigits maps RFC 4733 event codes 0-15 to DTMF digits.
const eventDigits = "0123456789*#ABCD"

// RegisterTelephoneEvent adds telephone-event at 48 kHz (beside Opus) and
// at 8 kHz (beside G.711) to m, events 0-15.
func RegisterTelephoneEvent(m *webrtc.MediaEngine) error {
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 48000,
			SDPFmtpLine: "0-15"}, PayloadType: TelephoneEvent48kPT},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 8000,
			SDPFmtpLine: "0-15"}, PayloadType: TelephoneEvent8kPT},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("pionpeer: register telephone-event/%d: %w", c.ClockRate, err)
		}
	}
	return nil
}

// IsTelephoneEvent reports whether codec c is RFC 4733 telephone-event.
func IsTelephoneEvent(c webrtc.RTPCodecParameters) bool {
	return strings.EqualFold(c.MimeType, MimeTypeTelephoneEvent)
}

// EventDigit is the DTMF digit of an RFC 4733 event code (0 if none).
func EventDigit(code byte) byte {
	if int(code) < len(eventDigits) {
		return eventDigits[code]
	}
	return 0
}

// DigitEvent is the RFC 4733 event code of a DTMF digit (a-d as A-D).
func DigitEvent(d byte) (byte, bool) {
	i := strings.IndexByte(eventDigits, d)
	if i < 0 {
		i = strings.IndexByte(eventDigits, d-'a'+'A')
	}
	if i < 0 || d == 0 {
		return 0, false
	}
	return byte(i), true
}

// EventPayload is an RFC 4733 §2.3 payload: event, E bit, volume (dBm0
// below zero, 0-63) and duration in timestamp units.
func EventPayload(code byte, end bool, volume byte, duration uint16) []byte {
	b := []byte{code, volume & 0x3f, byte(duration >> 8), byte(duration)}
	if end {
		b[1] |= 0x80
	}
	return b
}

// DigitCounter counts RFC 4733 telephone-event packets and reads the
// digits they carry. A digit's packets share one RTP timestamp (its
// start); its end packet is sent three times; so a digit is counted once,
// at the first packet with a new timestamp. Safe for concurrent use.
type DigitCounter struct {
	mu      sync.Mutex
	packets int
	digits  []byte
	lastTS  uint32
	seen    bool
}

// Add takes one telephone-event packet; payloads shorter than 4 bytes and
// unknown events count as packets but carry no digit.
func (c *DigitCounter) Add(p *rtp.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.packets++
	if len(p.Payload) < 4 || (c.seen && p.Timestamp == c.lastTS) {
		return
	}
	c.seen, c.lastTS = true, p.Timestamp
	if d := EventDigit(p.Payload[0]); d != 0 {
		c.digits = append(c.digits, d)
	}
}

// Packets is how many telephone-event packets arrived.
func (c *DigitCounter) Packets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.packets
}

// Digits are the digits read so far, in order.
func (c *DigitCounter) Digits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.digits)
}
