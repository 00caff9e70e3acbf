package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/sigbridge/sigbridge/internal/pionpeer"
)

// dataPrefix starts every data channel message a media end sends; only
// such messages are counted on the other side.
const dataPrefix = "interop:"

// pionEnd is a pion/webrtc media end on loopback: it sends synthetic
// audio (Opus frames every 20 ms), video (VP8 every 33 ms) and data
// channel messages (every 100 ms), and counts what arrives from the other
// end. Candidates are gathered on lo only, loopback included, mDNS off,
// UDP over IPv4.
type pionEnd struct {
	pc       *webrtc.PeerConnection
	label    string
	media    Media
	withhold bool
	log      *slog.Logger

	ice       atomic.Value // string: last ICE connection state
	connected atomic.Bool
	audio     atomic.Int64
	video     atomic.Int64
	data      atomic.Int64
	tones     pionpeer.DigitCounter // RFC 4733 telephone-event packets and their digits
	audioOut  *pionpeer.AudioTrack  // nil without audio

	wireMu   sync.Mutex
	wireDirs []string // the direction of each audio/video section on the wire (nil = as created)

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// newPionEnd builds the peer connection with the tracks of m; the caller
// side (offerer) also creates the data channel. Like a browser it offers
// and accepts RFC 4733 telephone-event beside Opus.
func newPionEnd(label string, m Media, offerer, withhold bool, log *slog.Logger) (*pionEnd, error) {
	api, err := pionpeer.NewTelephonyAPI(log)
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("interop: peer connection: %w", err)
	}
	e := &pionEnd{pc: pc, label: label, media: m, withhold: withhold, log: log, stop: make(chan struct{})}
	e.ice.Store("new")
	pc.OnICEConnectionStateChange(e.onICEState)
	pc.OnTrack(e.onTrack)
	pc.OnDataChannel(e.setupChannel)
	if err := e.addMedia(m, offerer); err != nil {
		_ = pc.Close()
		return nil, err
	}
	return e, nil
}

func (e *pionEnd) addMedia(m Media, offerer bool) error {
	audio, video, data := m.Kinds()
	if audio {
		if err := e.addAudio(); err != nil {
			return err
		}
	}
	if video {
		if err := e.addTrack(webrtc.MimeTypeVP8, "video", 33*time.Millisecond, vp8Frame()); err != nil {
			return err
		}
	}
	if data && offerer {
		dc, err := e.pc.CreateDataChannel("interop", nil)
		if err != nil {
			return fmt.Errorf("interop: data channel: %w", err)
		}
		e.setupChannel(dc)
	}
	return nil
}

// vp8Frame is a small payload shaped like a VP8 key frame; nobody decodes it.
func vp8Frame() []byte {
	b := make([]byte, 600)
	copy(b, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	return b
}

func (e *pionEnd) addTrack(mime, kind string, every time.Duration, payload []byte) error {
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, kind, "interop-"+e.label)
	if err != nil {
		return fmt.Errorf("interop: %s track: %w", kind, err)
	}
	sender, err := e.pc.AddTrack(track)
	if err != nil {
		return fmt.Errorf("interop: add %s track: %w", kind, err)
	}
	e.wg.Add(2)
	go e.drainRTCP(sender)
	go e.sendSamples(track, every, payload)
	return nil
}

// addAudio adds the Opus track that also plays DTMF (SendTones).
func (e *pionEnd) addAudio() error {
	track := pionpeer.NewAudioTrack("audio", "interop-"+e.label)
	sender, err := e.pc.AddTrack(track)
	if err != nil {
		return fmt.Errorf("interop: add audio track: %w", err)
	}
	e.audioOut = track
	e.wg.Add(2)
	go e.drainRTCP(sender)
	go e.sendFrames(track)
	return nil
}

func (e *pionEnd) sendFrames(t *pionpeer.AudioTrack) {
	defer e.wg.Done()
	tick := time.NewTicker(pionpeer.Frame)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			if err := t.WriteFrame(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				e.log.Debug("write audio", "err", err)
			}
		}
	}
}

// SendTones plays digits in-band as RFC 4733 events (100 ms each, 70 ms
// apart, as insertDTMF does by default) and returns once they are sent.
func (e *pionEnd) SendTones(ctx context.Context, digits string) error {
	if e.audioOut == nil {
		return errors.New("interop: no audio track to send tones on")
	}
	return e.audioOut.SendDigits(ctx, digits, 100*time.Millisecond)
}

func (e *pionEnd) drainRTCP(s *webrtc.RTPSender) {
	defer e.wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

func (e *pionEnd) sendSamples(t *webrtc.TrackLocalStaticSample, every time.Duration, payload []byte) {
	defer e.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			if err := t.WriteSample(media.Sample{Data: payload, Duration: every}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				e.log.Debug("write sample", "err", err)
			}
		}
	}
}

func (e *pionEnd) onICEState(s webrtc.ICEConnectionState) {
	e.ice.Store(s.String())
	if s == webrtc.ICEConnectionStateConnected || s == webrtc.ICEConnectionStateCompleted {
		e.connected.Store(true)
	}
}

// onTrack counts the packets of a remote track; on audio, RFC 4733
// telephone-event packets (same SSRC, their own payload type) count as
// tones, not audio.
func (e *pionEnd) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	counter := &e.audio
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		counter = &e.video
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			p, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			if pionpeer.IsTelephoneEvent(t.Codec()) {
				e.tones.Add(p)
				continue
			}
			counter.Add(1)
		}
	}()
}

func (e *pionEnd) setupChannel(dc *webrtc.DataChannel) {
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		if strings.HasPrefix(string(msg.Data), dataPrefix) {
			e.data.Add(1)
		}
	})
	dc.OnOpen(func() {
		e.wg.Add(1)
		go e.sendData(dc)
	})
}

func (e *pionEnd) sendData(dc *webrtc.DataChannel) {
	defer e.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			if err := dc.SendText(fmt.Sprintf("%s%s:%d", dataPrefix, e.label, n)); err != nil {
				return
			}
		}
	}
}

// kinds lists the media the end carries.
func (e *pionEnd) kinds() (audio, video, data bool) { return e.media.Kinds() }

// Report implements MediaEnd.
func (e *pionEnd) Report(context.Context) (MediaReport, error) {
	return MediaReport{ICE: e.ice.Load().(string), Connected: e.connected.Load(),
		Audio: int(e.audio.Load()), Video: int(e.video.Load()), Data: int(e.data.Load()),
		TonePackets: e.tones.Packets(), Tones: e.tones.Digits()}, nil
}

// offer creates an offer and sets it as the local description. On the
// wire (localSDP) every audio/video stream carries direction dir ("" keeps
// pion's). pion refuses a munged local description and has no API to
// change a transceiver's direction, so a hold is a hold on the wire only:
// the gateway and the other end see a real sendonly re-offer, while this
// end keeps its transceivers sendrecv.
func (e *pionEnd) offer(dir string) error {
	o, err := e.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("interop: create offer: %w", err)
	}
	var dirs []string
	if dir != "" {
		dirs = slices.Repeat([]string{dir}, sections(o.SDP))
	}
	e.setWireDirs(dirs)
	if err := e.pc.SetLocalDescription(o); err != nil {
		return fmt.Errorf("interop: set local offer: %w", err)
	}
	return nil
}

// answer applies a remote offer and sets the answer as local description.
func (e *pionEnd) answer(offer string) error {
	if err := e.setRemote(webrtc.SDPTypeOffer, offer); err != nil {
		return err
	}
	return e.answerRemote()
}

// answerRemote answers the remote offer already applied. pion answers a
// sendonly re-offer with sendrecv; on the wire the answer gets the
// direction RFC 3264 wants (sendonly → recvonly, recvonly → sendonly,
// inactive → inactive).
func (e *pionEnd) answerRemote() error {
	rd := e.pc.RemoteDescription()
	if rd == nil {
		return errors.New("interop: answer without a remote offer")
	}
	e.setWireDirs(answerDirections(directions(rd.SDP)))
	a, err := e.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("interop: create answer: %w", err)
	}
	if err := e.pc.SetLocalDescription(a); err != nil {
		return fmt.Errorf("interop: set local answer: %w", err)
	}
	return nil
}

func (e *pionEnd) setRemote(typ webrtc.SDPType, sdp string) error {
	if err := e.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp}); err != nil {
		return fmt.Errorf("interop: set remote %s: %w", typ, err)
	}
	return nil
}

// localSDP is the local description as it goes on the wire: without
// candidates when the end withholds them.
func (e *pionEnd) localSDP() string {
	ld := e.pc.LocalDescription()
	if ld == nil {
		return ""
	}
	e.wireMu.Lock()
	sdp := setDirections(ld.SDP, e.wireDirs)
	e.wireMu.Unlock()
	if e.withhold {
		sdp = stripCandidates(sdp)
	}
	return sdp
}

// completeSDP waits for gathering to finish and returns the local
// description with every candidate (for dialects that do not trickle).
func (e *pionEnd) completeSDP(ctx context.Context) (string, error) {
	done := webrtc.GatheringCompletePromise(e.pc)
	if e.pc.ICEGatheringState() != webrtc.ICEGatheringStateComplete {
		select {
		case <-done:
		case <-ctx.Done():
			return "", fmt.Errorf("interop: gathering candidates: %w", ctx.Err())
		}
	}
	return e.localSDP(), nil
}

// addCandidate applies a remote candidate (ignored while withholding: a
// withholding end takes no part in ICE at all).
func (e *pionEnd) addCandidate(c webrtc.ICECandidateInit) error {
	if e.withhold {
		return nil
	}
	if err := e.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("interop: add candidate: %w", err)
	}
	return nil
}

// close stops the senders and the peer connection and waits for the
// goroutines.
func (e *pionEnd) close() error {
	var err error
	e.stopOnce.Do(func() {
		close(e.stop)
		err = e.pc.Close()
		e.wg.Wait()
	})
	return err
}

func (e *pionEnd) setWireDirs(dirs []string) {
	e.wireMu.Lock()
	e.wireDirs = dirs
	e.wireMu.Unlock()
}

// setDirections sets the direction of the audio and video sections in
// order; "" (or a short list) leaves a section as it is.
func setDirections(sdp string, dirs []string) string {
	if len(dirs) == 0 {
		return sdp
	}
	lines := strings.Split(sdp, "\r\n")
	n := -1
	inRTP := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "m="):
			inRTP = isRTPSection(l)
			if inRTP {
				n++
			}
		case inRTP && isDirection(l) && n < len(dirs) && dirs[n] != "":
			lines[i] = "a=" + dirs[n]
		}
	}
	return strings.Join(lines, "\r\n")
}

func isRTPSection(mline string) bool {
	return strings.HasPrefix(mline, "m=audio") || strings.HasPrefix(mline, "m=video")
}

// sections counts the audio and video sections of an SDP.
func sections(sdp string) int {
	n := 0
	for _, l := range strings.Split(sdp, "\r\n") {
		if isRTPSection(l) {
			n++
		}
	}
	return n
}

// answerDirections maps the offer's directions to those of a compliant
// answer that is willing to send and receive ("" keeps the created one).
func answerDirections(offer string) []string {
	var out []string
	for _, d := range strings.Split(offer, ",") {
		switch d {
		case "sendonly":
			out = append(out, "recvonly")
		case "recvonly":
			out = append(out, "sendonly")
		case "inactive":
			out = append(out, "inactive")
		default:
			out = append(out, "")
		}
	}
	return out
}

func isDirection(l string) bool {
	switch l {
	case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
		return true
	}
	return false
}

// directions lists the direction of each audio/video section of an SDP.
func directions(sdp string) string {
	var out []string
	inRTP := false
	for _, l := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "m="):
			inRTP = isRTPSection(l)
		case inRTP && isDirection(l):
			out = append(out, strings.TrimPrefix(l, "a="))
		}
	}
	return strings.Join(out, ",")
}

// stripCandidates removes a=candidate and a=end-of-candidates lines.
func stripCandidates(sdp string) string {
	lines := strings.Split(sdp, "\r\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "a=candidate:") || l == "a=end-of-candidates" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}
