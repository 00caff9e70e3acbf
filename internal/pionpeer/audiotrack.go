package pionpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Frame is the audio packet interval of AudioTrack.
const Frame = 20 * time.Millisecond

// ErrNoTelephoneEvent: the call did not negotiate telephone-event, so
// digits cannot be sent in-band.
var ErrNoTelephoneEvent = errors.New("pionpeer: telephone-event not negotiated")

// AudioTrack is a local audio track (Opus, or G.711) that can also send RFC 4733 DTMF on
// its RTP stream, as a browser's RTCRtpSender.dtmf does: one SSRC, one
// sequence, the telephone-event payload type the call negotiated (pion's
// own static tracks rewrite every packet to the track's payload type).
// WriteFrame sends one 20 ms audio packet; SendDigits plays digits, and
// audio frames written meanwhile are dropped, as RFC 4733 §2.5.1.1 wants.
type AudioTrack struct {
	id, stream string

	mu      sync.Mutex
	w       webrtc.TrackLocalWriter
	ssrc    uint32
	audio   webrtc.RTPCodecParameters
	te      *webrtc.RTPCodecParameters
	seq     uint16
	ts      uint32 // timestamp of the last audio frame
	inEvent bool

	digitsMu sync.Mutex // one SendDigits at a time
}

// NewAudioTrack returns an unbound track.
func NewAudioTrack(id, stream string) *AudioTrack {
	return &AudioTrack{id: id, stream: stream, seq: uint16(rand.Uint32()), ts: rand.Uint32()}
}

// Bind implements webrtc.TrackLocal: it takes Opus, else PCMU, else
// PCMA (a call through a media relay toward a plain-RTP phone may offer
// only G.711), and notes the telephone-event format at that codec's clock
// rate (else any), if the call has one.
func (t *AudioTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	params := c.CodecParameters()
	var audio *webrtc.RTPCodecParameters
	for _, mime := range []string{webrtc.MimeTypeOpus, webrtc.MimeTypePCMU, webrtc.MimeTypePCMA} {
		for i := range params {
			if audio == nil && strings.EqualFold(params[i].MimeType, mime) {
				audio = &params[i]
			}
		}
	}
	if audio == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	var te *webrtc.RTPCodecParameters
	for i := range params {
		if IsTelephoneEvent(params[i]) && (te == nil || params[i].ClockRate == audio.ClockRate) {
			te = &params[i]
		}
	}
	t.mu.Lock()
	t.w, t.ssrc, t.audio, t.te = c.WriteStream(), uint32(c.SSRC()), *audio, te
	t.mu.Unlock()
	return *audio, nil
}

// Unbind implements webrtc.TrackLocal.
func (t *AudioTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

// ID implements webrtc.TrackLocal.
func (t *AudioTrack) ID() string { return t.id }

// RID implements webrtc.TrackLocal.
func (t *AudioTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (t *AudioTrack) StreamID() string { return t.stream }

// Kind implements webrtc.TrackLocal.
func (t *AudioTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// CanSendDTMF reports whether the bound call negotiated telephone-event.
func (t *AudioTrack) CanSendDTMF() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w != nil && t.te != nil
}

// WriteFrame sends one 20 ms frame of the bound codec (a tiny Opus
// packet, or G.711 silence; nobody decodes it), dropped while unbound or
// while a digit plays.
func (t *AudioTrack) WriteFrame() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil {
		return nil
	}
	t.ts += t.audio.ClockRate * uint32(Frame/time.Millisecond) / 1000
	if t.inEvent {
		return nil
	}
	return t.writeLocked(uint8(t.audio.PayloadType), false, t.ts, frame(t.audio.MimeType))
}

var (
	opusFrame = []byte{0xf8, 0xff, 0xfe}
	pcmuFrame = bytes.Repeat([]byte{0xff}, 160)
	pcmaFrame = bytes.Repeat([]byte{0xd5}, 160)
)

func frame(mime string) []byte {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypePCMU):
		return pcmuFrame
	case strings.EqualFold(mime, webrtc.MimeTypePCMA):
		return pcmaFrame
	}
	return opusFrame
}

func (t *AudioTrack) writeLocked(pt uint8, marker bool, ts uint32, payload []byte) error {
	h := &rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: t.seq, Timestamp: ts, SSRC: t.ssrc}
	t.seq++
	_, err := t.w.WriteRTP(h, payload)
	return err
}

// SendDigits plays digits (0-9 * # A-D) one after the other, each for
// duration plus a 70 ms gap (insertDTMF's defaults are 100 and 70): a
// packet every 20 ms, the first with the marker bit, the last three with
// the E bit, all with the digit's start timestamp. It returns when the
// last digit ended, or with ctx's error.
func (t *AudioTrack) SendDigits(ctx context.Context, digits string, duration time.Duration) error {
	t.digitsMu.Lock()
	defer t.digitsMu.Unlock()
	if !t.CanSendDTMF() {
		return ErrNoTelephoneEvent
	}
	for i := 0; i < len(digits); i++ {
		code, ok := DigitEvent(digits[i])
		if !ok {
			return fmt.Errorf("pionpeer: %q is no DTMF digit", digits[i])
		}
		if err := t.playDigit(ctx, code, duration); err != nil {
			return err
		}
		if err := sleep(ctx, 70*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func (t *AudioTrack) playDigit(ctx context.Context, code byte, d time.Duration) error {
	t.mu.Lock()
	t.inEvent = true
	start, rate := t.ts+t.audio.ClockRate*uint32(Frame/time.Millisecond)/1000, t.te.ClockRate
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inEvent = false
		t.mu.Unlock()
	}()
	n := max(int(d/Frame), 1)
	for i := 1; i <= n+2; i++ {
		end := i >= n
		units := uint16(min(uint64(min(i, n))*uint64(rate)*uint64(Frame)/uint64(time.Second), 0xffff))
		if err := t.writeEvent(i == 1, start, EventPayload(code, end, 10, units)); err != nil {
			return err
		}
		if i < n {
			if err := sleep(ctx, Frame); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *AudioTrack) writeEvent(marker bool, ts uint32, payload []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil || t.te == nil {
		return ErrNoTelephoneEvent
	}
	return t.writeLocked(uint8(t.te.PayloadType), marker, ts, payload)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
