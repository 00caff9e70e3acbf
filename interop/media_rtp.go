package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/internal/pionpeer"
)

// sipMedia is the media end of the harness's SIP UA: a pion WebRTC end
// (ICE, DTLS-SRTP) or a plain-RTP one (RTP/AVP, as desk phones and trunks
// speak).
type sipMedia interface {
	MediaEnd
	toneSender
	offer(dir string) error
	answer(offer string) error
	answerRemote() error
	setRemote(typ webrtc.SDPType, sdp string) error
	completeSDP(ctx context.Context) (string, error)
	close() error
}

var (
	_ sipMedia = (*pionEnd)(nil)
	_ sipMedia = (*rtpEnd)(nil)
)

// Plain-RTP payload types: PCMU and telephone-event/8000 as desk phones
// offer them.
const (
	rtpPCMU = 0
	rtpTE   = 101
)

// rtpEnd is a plain-RTP media end, the way a desk phone or a trunk speaks:
// one UDP port on loopback, RTP/AVP, PCMU every 20 ms (silence) and
// telephone-event/8000, no ICE, no DTLS, no RTCP. It sends to the address
// and port of the other side's SDP and counts every RTP packet that
// arrives (telephone-event packets apart, with their digits). Like the
// pion end, a hold is a hold on the wire only: it keeps sending.
type rtpEnd struct {
	conn *net.UDPConn
	host string
	port int
	id   uint64

	mu      sync.Mutex
	remote  *net.UDPAddr
	local   string // the local SDP, as on the wire
	offered string // the remote offer not answered yet
	teIn    map[uint8]bool
	teOut   uint8 // the telephone-event payload type we send (the offer's)
	version int
	seq     uint16
	ts      uint32
	ssrc    uint32
	inEvent bool
	from    atomic.Value // string: where the last packet came from

	audio atomic.Int64
	tones pionpeer.DigitCounter

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	digitsMu sync.Mutex
}

// newRTPEnd binds a UDP port on host and starts sending and counting.
func newRTPEnd(host string) (*rtpEnd, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		return nil, fmt.Errorf("interop: rtp listen on %s: %w", host, err)
	}
	e := &rtpEnd{conn: conn, host: host, port: conn.LocalAddr().(*net.UDPAddr).Port, id: rand.Uint64() >> 2,
		teIn: map[uint8]bool{rtpTE: true}, teOut: rtpTE, seq: uint16(rand.Uint32()), ts: rand.Uint32(),
		ssrc: rand.Uint32(), stop: make(chan struct{})}
	e.from.Store("")
	e.wg.Add(2)
	go e.read()
	go e.send()
	return e, nil
}

// sdp is our description with the given direction.
func (e *rtpEnd) sdp(dir string, te uint8) string {
	e.version++
	lines := []string{"v=0",
		fmt.Sprintf("o=interop %d %d IN IP4 %s", e.id, e.version, e.host), "s=interop plain RTP",
		"c=IN IP4 " + e.host, "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP %d %d", e.port, rtpPCMU, te),
		"a=rtpmap:0 PCMU/8000", fmt.Sprintf("a=rtpmap:%d telephone-event/8000", te),
		fmt.Sprintf("a=fmtp:%d 0-16", te), "a=ptime:20", "a=" + dir}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// offer implements sipMedia.
func (e *rtpEnd) offer(dir string) error {
	if dir == "" {
		dir = "sendrecv"
	}
	e.mu.Lock()
	e.local = e.sdp(dir, rtpTE)
	e.mu.Unlock()
	return nil
}

// setRemote implements sipMedia: the other side's address, port and
// telephone-event payload type.
func (e *rtpEnd) setRemote(typ webrtc.SDPType, sdp string) error {
	addr, te, err := parsePlainSDP(sdp)
	if err != nil {
		return fmt.Errorf("interop: remote %s: %w", typ, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.remote = addr
	if te != 0 {
		e.teIn[te] = true
		if typ == webrtc.SDPTypeOffer {
			e.teOut = te
		}
	}
	if typ == webrtc.SDPTypeOffer {
		e.offered = sdp
	}
	return nil
}

// answerRemote implements sipMedia: answers the remote offer with PCMU,
// the offer's telephone-event and RFC 3264's direction.
func (e *rtpEnd) answerRemote() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.offered == "" {
		return errors.New("interop: answer without a remote offer")
	}
	dir := "sendrecv"
	if d := answerDirections(directions(e.offered)); len(d) > 0 && d[0] != "" {
		dir = d[0]
	}
	e.local, e.offered = e.sdp(dir, e.teOut), ""
	return nil
}

// answer implements sipMedia.
func (e *rtpEnd) answer(offer string) error {
	if err := e.setRemote(webrtc.SDPTypeOffer, offer); err != nil {
		return err
	}
	return e.answerRemote()
}

// completeSDP implements sipMedia: a plain-RTP SDP is always complete.
func (e *rtpEnd) completeSDP(context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.local, nil
}

// parsePlainSDP reads the audio address and port and the telephone-event
// payload type of a plain-RTP SDP; anything but RTP/AVP audio is refused.
func parsePlainSDP(sdp string) (*net.UDPAddr, uint8, error) {
	var host string
	port, te := 0, 0
	inAudio := false
	for _, l := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "m="):
			f := strings.Fields(l)
			inAudio = len(f) >= 3 && f[0] == "m=audio" && port == 0
			if inAudio {
				if f[2] != "RTP/AVP" {
					return nil, 0, fmt.Errorf("audio is %s, not RTP/AVP", f[2])
				}
				port, _ = strconv.Atoi(f[1])
			}
		case strings.HasPrefix(l, "c=IN IP4 ") && (host == "" || inAudio):
			host = strings.TrimSpace(strings.TrimPrefix(l, "c=IN IP4 "))
		case inAudio && strings.HasPrefix(l, "a=rtpmap:") && strings.Contains(strings.ToLower(l), "telephone-event/8000"):
			pt, _, _ := strings.Cut(strings.TrimPrefix(l, "a=rtpmap:"), " ")
			te, _ = strconv.Atoi(pt)
		}
	}
	ip := net.ParseIP(host)
	if ip == nil || port <= 0 {
		return nil, 0, fmt.Errorf("no audio address in the SDP (c=%q, port %d)", host, port)
	}
	return &net.UDPAddr{IP: ip, Port: port}, uint8(te), nil
}

func (e *rtpEnd) read() {
	defer e.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := e.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.Version != 2 {
			continue
		}
		e.from.Store(from.String())
		e.mu.Lock()
		te := e.teIn[p.PayloadType]
		e.mu.Unlock()
		if te {
			e.tones.Add(&p)
			continue
		}
		e.audio.Add(1)
	}
}

var pcmuSilence = bytes.Repeat([]byte{0xff}, 160)

func (e *rtpEnd) send() {
	defer e.wg.Done()
	tick := time.NewTicker(pionpeer.Frame)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		e.mu.Lock()
		e.ts += 160
		if !e.inEvent {
			e.writeLocked(rtpPCMU, false, e.ts, pcmuSilence)
		}
		e.mu.Unlock()
	}
}

// writeLocked sends one packet to the remote (nothing before it is known).
func (e *rtpEnd) writeLocked(pt uint8, marker bool, ts uint32, payload []byte) {
	if e.remote == nil {
		return
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: e.seq,
		Timestamp: ts, SSRC: e.ssrc}, Payload: payload}
	e.seq++
	if b, err := p.Marshal(); err == nil {
		_, _ = e.conn.WriteToUDP(b, e.remote)
	}
}

// SendTones implements toneSender: RFC 4733 events at 8 kHz, 100 ms each,
// 70 ms apart, with the telephone-event payload type of the offer.
func (e *rtpEnd) SendTones(ctx context.Context, digits string) error {
	e.digitsMu.Lock()
	defer e.digitsMu.Unlock()
	for i := 0; i < len(digits); i++ {
		code, ok := pionpeer.DigitEvent(digits[i])
		if !ok {
			return fmt.Errorf("interop: %q is no DTMF digit", digits[i])
		}
		if err := e.playDigit(ctx, code); err != nil {
			return err
		}
		select {
		case <-time.After(70 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (e *rtpEnd) playDigit(ctx context.Context, code byte) error {
	e.mu.Lock()
	e.inEvent = true
	start := e.ts + 160
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inEvent = false
		e.mu.Unlock()
	}()
	const n = 5 // 100 ms
	for i := 1; i <= n+2; i++ {
		e.mu.Lock()
		e.writeLocked(e.teOut, i == 1, start, pionpeer.EventPayload(code, i >= n, 10, uint16(min(i, n)*160)))
		e.mu.Unlock()
		if i < n {
			select {
			case <-time.After(pionpeer.Frame):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// Report implements MediaEnd: plain RTP has no ICE; "connected" means
// RTP arrived.
func (e *rtpEnd) Report(context.Context) (MediaReport, error) {
	n := int(e.audio.Load())
	r := MediaReport{ICE: "plain RTP, nothing received", Audio: n, TonePackets: e.tones.Packets(), Tones: e.tones.Digits()}
	if n > 0 || r.TonePackets > 0 {
		r.Connected = true
		r.ICE = "plain RTP from " + e.from.Load().(string)
	}
	return r, nil
}

// close implements sipMedia.
func (e *rtpEnd) close() error {
	var err error
	e.stopOnce.Do(func() {
		close(e.stop)
		err = e.conn.Close()
		e.wg.Wait()
	})
	return err
}
