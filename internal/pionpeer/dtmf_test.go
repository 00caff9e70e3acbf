package pionpeer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestDigitsBetweenPeers: one loopback peer sends "1234567890*#ABCD" as
// RFC 4733 events on its Opus stream; the other reads them back from the
// telephone-event packets, while audio packets still arrive between the
// digits.
func TestDigitsBetweenPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	track, counter, audio := connectedPair(ctx, t, true, true)
	const digits = "1234567890*#ABCD"
	if err := track.SendDigits(ctx, digits, 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, func() bool { return counter.Digits() == digits }, func() string { return counter.Digits() })
	// 60 ms per digit: three packets, the last one sent three times.
	if n := counter.Packets(); n != 5*len(digits) {
		t.Errorf("%d telephone-event packets, want %d", n, 5*len(digits))
	}
	if audio.Load() < 5 {
		t.Errorf("%d audio packets", audio.Load())
	}
}

// TestDigitsOverPCMU: toward a peer that knows only PCMU and
// telephone-event/8000 (a plain-RTP phone behind a media relay) the track
// sends PCMU frames and 8 kHz events.
func TestDigitsOverPCMU(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 8000}, PayloadType: 101},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	rxAPI := webrtc.NewAPI(webrtc.WithSettingEngine(settings(nil)), webrtc.WithMediaEngine(m))
	track, counter, audio := connectedPairWith(ctx, t, newPC(t, true), newPCOf(t, rxAPI))
	if err := track.SendDigits(ctx, "#7", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, func() bool { return counter.Digits() == "#7" }, func() string { return counter.Digits() })
	if track.audio.MimeType != webrtc.MimeTypePCMU || track.te.ClockRate != 8000 || audio.Load() < 5 {
		t.Errorf("bound %s, events at %d Hz, %d audio packets", track.audio.MimeType, track.te.ClockRate, audio.Load())
	}
}

// TestNoTelephoneEvent: toward a peer without telephone-event, digits
// cannot be sent in-band.
func TestNoTelephoneEvent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	track, _, _ := connectedPair(ctx, t, true, false)
	if err := track.SendDigits(ctx, "1", 100*time.Millisecond); !errors.Is(err, ErrNoTelephoneEvent) {
		t.Fatalf("SendDigits: %v, want ErrNoTelephoneEvent", err)
	}
}

func TestDigitEvent(t *testing.T) {
	for i := 0; i < 16; i++ {
		d := EventDigit(byte(i))
		if c, ok := DigitEvent(d); !ok || c != byte(i) {
			t.Errorf("event %d: digit %q back %d %v", i, d, c, ok)
		}
	}
	if c, ok := DigitEvent('b'); !ok || c != 13 {
		t.Errorf("b: %d %v", c, ok)
	}
	for _, d := range []byte{'E', 'x', 0, ' '} {
		if _, ok := DigitEvent(d); ok {
			t.Errorf("%q taken as a digit", d)
		}
	}
	if EventDigit(16) != 0 {
		t.Error("event 16 has a digit")
	}
}

// connectedPair connects a sender with an AudioTrack (writing frames every
// 20 ms until the test ends) to a receiver that counts telephone-event and
// audio packets; each side knows telephone-event as told.
func connectedPair(ctx context.Context, t *testing.T, senderTE, receiverTE bool) (*AudioTrack, *DigitCounter, *atomic.Int64) {
	t.Helper()
	return connectedPairWith(ctx, t, newPC(t, senderTE), newPC(t, receiverTE))
}

func connectedPairWith(ctx context.Context, t *testing.T, tx, rx *webrtc.PeerConnection) (*AudioTrack, *DigitCounter, *atomic.Int64) {
	t.Helper()
	track := NewAudioTrack("audio", "test")
	if _, err := tx.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	counter := &DigitCounter{}
	audio := new(atomic.Int64)
	got := make(chan struct{})
	rx.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		close(got)
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			countPacket(tr, p, counter, audio)
		}
	})
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(Frame)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = track.WriteFrame()
			}
		}
	}()
	negotiate(ctx, t, tx, rx)
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("no track arrived")
	}
	return track, counter, audio
}

func countPacket(tr *webrtc.TrackRemote, p *rtp.Packet, c *DigitCounter, audio *atomic.Int64) {
	if IsTelephoneEvent(tr.Codec()) {
		c.Add(p)
		return
	}
	audio.Add(1)
}

func newPC(t *testing.T, te bool) *webrtc.PeerConnection {
	t.Helper()
	api := NewAPI(nil)
	if te {
		var err error
		if api, err = NewTelephonyAPI(nil); err != nil {
			t.Fatal(err)
		}
	}
	return newPCOf(t, api)
}

func newPCOf(t *testing.T, api *webrtc.API) *webrtc.PeerConnection {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

func negotiate(ctx context.Context, t *testing.T, a, b *webrtc.PeerConnection) {
	t.Helper()
	if _, err := b.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := a.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(a)
	if err := a.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := b.SetRemoteDescription(*a.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := b.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done = webrtc.GatheringCompletePromise(b)
	if err := b.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := a.SetRemoteDescription(*b.LocalDescription()); err != nil {
		t.Fatal(err)
	}
}

func waitFor(ctx context.Context, t *testing.T, ok func() bool, got func() string) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out; got %q", got())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
