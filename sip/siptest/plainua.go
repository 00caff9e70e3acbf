package siptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/internal/sippool"
)

// PlainUA is a SIP phone without WebRTC for tests: RTP/AVP, no ICE, no
// DTLS, G.711 (PCMU, else PCMA) and RFC 4733 telephone-event when offered.
// It stands in for a desk phone or trunk that only a media anchor
// (rtpengine) can connect to a browser. Each call has its own RTP socket on
// 127.0.0.1; it sends a 20 ms G.711 packet every 20 ms toward the address
// of the other side's SDP while the direction allows, and counts what
// arrives. It answers re-INVITEs (mirroring the direction: sendonly →
// recvonly) and OPTIONS, and can put a call on hold and resume it.
type PlainUA struct {
	// Incoming receives each call the UA answered.
	Incoming chan *PlainCall
	// Ringing receives each call the UA rings without answering
	// (NoAnswer set); it ends when the caller cancels.
	Ringing chan *PlainCall
	// NoAnswer makes the UA ring (180) and never answer.
	NoAnswer atomic.Bool

	stack
	conn net.PacketConn
	user string
	log  *slog.Logger
	mute atomic.Bool // Vanish: no answers at all

	mu    sync.Mutex
	calls map[string]*PlainCall // by Call-ID
}

// PlainCall is one call of a PlainUA.
type PlainCall struct {
	// Ended is closed when the call ended (BYE either way, or Vanish).
	Ended chan struct{}
	// Offers holds every SDP offer the UA received on this call (the
	// INVITE's and the re-INVITEs'), in order.
	offers []string

	ua      *PlainUA
	callID  string
	rtpConn *net.UDPConn
	pt      uint8 // audio payload type in use
	evPT    uint8 // telephone-event payload type (0: none)

	mu        sync.Mutex
	remote    *net.UDPAddr
	send      bool // direction allows sending
	reinv     func(ctx context.Context, body string) (*sip.Response, error)
	bye       func(ctx context.Context) error
	localSDP  string
	version   int
	received  atomic.Int64
	sent      atomic.Int64
	events    atomic.Int64
	endOnce   sync.Once
	stop      chan struct{}
	lastEvent atomic.Int64 // the last telephone-event code + 1 (0: none)
}

// NewPlainUA starts a plain-RTP UA on a free UDP port of 127.0.0.1 whose
// AOR user is user. log may be nil.
func NewPlainUA(user string, log *slog.Logger) (*PlainUA, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("siptest: listen: %w", err)
	}
	u := &PlainUA{Incoming: make(chan *PlainCall, 8), Ringing: make(chan *PlainCall, 8), conn: conn, user: user, log: log, calls: map[string]*PlainCall{}}
	if err := u.setup(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	go func() { _ = u.srv.ServeUDP(muteConn{conn, &u.mute}) }()
	if err := sippool.WaitPooled(context.Background(), u.ua, u.Addr()); err != nil {
		_ = u.Close()
		return nil, err
	}
	return u, nil
}

// muteConn drops every datagram once mute is set: a phone that vanished.
type muteConn struct {
	net.PacketConn
	mute *atomic.Bool
}

func (m muteConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := m.PacketConn.ReadFrom(b)
		if err != nil || !m.mute.Load() {
			return n, a, err
		}
	}
}

func (u *PlainUA) setup() error {
	if err := u.stack.setup("siptest-plain", u.user, u.Addr(), u.port(), u.log); err != nil {
		return err
	}
	u.srv.OnInvite(u.onInvite)
	u.srv.OnBye(u.onBye)
	u.srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return nil
}

// Addr is the UA's SIP address ("127.0.0.1:port", UDP).
func (u *PlainUA) Addr() string { return u.conn.LocalAddr().String() }

func (u *PlainUA) port() int {
	_, p, _ := net.SplitHostPort(u.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// URI is the UA's own SIP URI.
func (u *PlainUA) URI() string { return "sip:" + u.user + "@" + u.Addr() }

// Close ends the media of every call and stops the UA (no BYE).
func (u *PlainUA) Close() error {
	u.mu.Lock()
	calls := u.calls
	u.calls = map[string]*PlainCall{}
	u.mu.Unlock()
	for _, c := range calls {
		c.end()
	}
	_ = u.conn.Close()
	return u.ua.Close()
}

// Vanish makes the UA disappear without a BYE: it stops its media and
// ignores every SIP request from now on (the gateway's OPTIONS probes go
// unanswered).
func (u *PlainUA) Vanish() {
	u.mute.Store(true)
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.calls {
		c.stopMedia()
	}
}

func (u *PlainUA) newCall(callID string) (*PlainCall, error) {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("siptest: RTP socket: %w", err)
	}
	c := &PlainCall{Ended: make(chan struct{}), ua: u, callID: callID, rtpConn: rc, stop: make(chan struct{}), send: true}
	u.mu.Lock()
	u.calls[callID] = c
	u.mu.Unlock()
	go c.readRTP()
	go c.sendRTP()
	return c, nil
}

func (u *PlainUA) call(callID string) *PlainCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[callID]
}

// onInvite answers a new call (200 with an RTP/AVP answer, 488 without a
// G.711 codec) or a re-INVITE of a known one.
func (u *PlainUA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if tag, _ := req.To().Params.Get("tag"); tag != "" {
		u.onReinvite(req, tx)
		return
	}
	sess, err := u.srvDlg.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	c, err := u.newCall(req.CallID().Value())
	if err != nil {
		_ = sess.Respond(500, "Server Internal Error", nil)
		return
	}
	c.bye = sess.Bye
	c.reinv = reinviter(sess, req.Contact())
	answer, err := c.takeOffer(string(req.Body()))
	if err != nil {
		u.log.Info("siptest: plain UA refuses the offer", "err", err)
		_ = sess.Respond(488, "Not Acceptable Here", nil)
		c.end()
		return
	}
	_ = sess.Respond(180, "Ringing", nil)
	if u.NoAnswer.Load() {
		u.Ringing <- c
		<-sess.Context().Done() // CANCEL (sipgo answers 200 and 487)
		c.end()
		return
	}
	if err := sess.RespondSDP([]byte(answer)); err != nil {
		u.log.Error("siptest: 200 not acknowledged", "err", err)
		c.end()
		return
	}
	u.Incoming <- c
	go func() {
		<-sess.Context().Done()
		_ = sess.Close()
		c.end()
	}()
}

func (u *PlainUA) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := u.call(req.CallID().Value())
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	answer, err := c.takeOffer(string(req.Body()))
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	res := sip.NewSDPResponseFromRequest(req, []byte(answer))
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: u.user, Host: "127.0.0.1", Port: u.port()}})
	_ = tx.Respond(res)
}

func (u *PlainUA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.call(req.CallID().Value()); c != nil {
		defer c.end()
	}
	if err := u.srvDlg.ReadBye(req, tx); err == nil {
		return
	}
	if err := u.cliDlg.ReadBye(req, tx); err == nil {
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// Dial calls target with a plain offer (PCMU, PCMA, telephone-event) and
// waits for the answer.
func (u *PlainUA) Dial(ctx context.Context, target string) (*PlainCall, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("siptest: target: %w", err)
	}
	callID := randomID()
	c, err := u.newCall(callID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pt, c.evPT = 0, 101
	offer := c.sdp("sendrecv", []string{"0", "8", "101"})
	c.mu.Unlock()
	cid := sip.CallIDHeader(callID)
	sess, err := u.cliDlg.Invite(ctx, uri, []byte(offer), sip.NewHeader("Content-Type", "application/sdp"), &cid)
	if err != nil {
		c.end()
		return nil, fmt.Errorf("siptest: INVITE: %w", err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		c.end()
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, &RefusedError{Code: dr.Res.StatusCode, Reason: dr.Res.Reason, Warning: headerValue(dr.Res, "Warning")}
		}
		return nil, fmt.Errorf("siptest: no answer: %w", err)
	}
	if err := sess.Ack(ctx); err != nil {
		c.end()
		return nil, fmt.Errorf("siptest: ACK: %w", err)
	}
	if err := c.takeAnswer(string(sess.InviteResponse.Body())); err != nil {
		_ = sess.Bye(ctx)
		c.end()
		return nil, err
	}
	c.bye = sess.Bye
	c.reinv = reinviter(sess, sess.InviteResponse.Contact())
	go func() {
		<-sess.Context().Done()
		c.end()
	}()
	return c, nil
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// plainSSRC is the SSRC of every PlainUA stream.
const plainSSRC = 0x5157a11

// RefusedError is a final non-2xx answer to Dial.
type RefusedError struct {
	Code    int
	Reason  string
	Warning string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("siptest: call refused: %d %s (Warning: %s)", e.Code, e.Reason, e.Warning)
}

func headerValue(m *sip.Response, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// Received is the number of G.711 RTP packets received so far.
func (c *PlainCall) Received() int64 { return c.received.Load() }

// Sent is the number of RTP packets sent so far.
func (c *PlainCall) Sent() int64 { return c.sent.Load() }

// Events is the number of telephone-event RTP packets received so far.
func (c *PlainCall) Events() int64 { return c.events.Load() }

// LastEvent is the event code (0-15: 0-9 * # A-D) of the last
// telephone-event packet received, or -1.
func (c *PlainCall) LastEvent() int { return int(c.lastEvent.Load()) - 1 }

// Offers returns the SDP offers the UA received on this call.
func (c *PlainCall) Offers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.offers...)
}

// CallID is the SIP Call-ID of the call.
func (c *PlainCall) CallID() string { return c.callID }

// Hangup sends BYE.
func (c *PlainCall) Hangup(ctx context.Context) error {
	defer c.end()
	return c.bye(ctx)
}

// Hold re-INVITEs with a=sendonly (the other side stops sending, we go
// on: music on hold); Resume re-INVITEs with a=sendrecv.
func (c *PlainCall) Hold(ctx context.Context) error { return c.reinvite(ctx, "sendonly") }

// Resume takes the call off hold.
func (c *PlainCall) Resume(ctx context.Context) error { return c.reinvite(ctx, "sendrecv") }

func (c *PlainCall) reinvite(ctx context.Context, dir string) error {
	c.mu.Lock()
	offer := c.sdp(dir, c.payloads())
	c.mu.Unlock()
	res, err := c.reinv(ctx, offer)
	if err != nil {
		return fmt.Errorf("siptest: re-INVITE: %w", err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("siptest: re-INVITE answered %d", res.StatusCode)
	}
	return c.takeAnswer(string(res.Body()))
}

// dialogSession is what re-INVITEs need of sipgo's client and server
// dialog sessions.
type dialogSession interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	WriteRequest(req *sip.Request) error
}

// reinviter sends re-INVITEs to the other side's Contact and ACKs their
// 2xx.
func reinviter(sess dialogSession, contact *sip.ContactHeader) func(ctx context.Context, body string) (*sip.Response, error) {
	return func(ctx context.Context, body string) (*sip.Response, error) {
		if contact == nil {
			return nil, errors.New("siptest: no Contact to re-INVITE")
		}
		target := *contact.Address.Clone()
		req := sip.NewRequest(sip.INVITE, target)
		req.SetBody([]byte(body))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res, err := sess.Do(ctx, req)
		if err != nil || res.StatusCode >= 300 {
			return res, err
		}
		ack := sip.NewRequest(sip.ACK, target)
		return res, sess.WriteRequest(ack)
	}
}

func (c *PlainCall) payloads() []string {
	p := []string{strconv.Itoa(int(c.pt))}
	if c.evPT != 0 {
		p = append(p, strconv.Itoa(int(c.evPT)))
	}
	return p
}

// sdp renders our SDP (c.mu held or not yet shared).
func (c *PlainCall) sdp(dir string, pts []string) string {
	c.version++
	port := c.rtpConn.LocalAddr().(*net.UDPAddr).Port
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=plain 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n", c.version)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", port, strings.Join(pts, " "))
	for _, pt := range pts {
		switch pt {
		case "0":
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case "8":
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		default:
			fmt.Fprintf(&b, "a=rtpmap:%s telephone-event/8000\r\na=fmtp:%s 0-16\r\n", pt, pt)
		}
	}
	// The stream's SSRC is declared (RFC 5576), as many phones and PBXs
	// do: a WebRTC stack then knows the stream before it arrives.
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\na=ssrc:%d cname:%s\r\n", dir, plainSSRC, c.ua.user)
	c.localSDP = b.String()
	return c.localSDP
}

// takeOffer reads an offer and returns our answer.
func (c *PlainCall) takeOffer(offer string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offers = append(c.offers, offer)
	m, addr, dir, err := audioOf(offer)
	if err != nil {
		return "", err
	}
	pts := []string{}
	c.pt, c.evPT = 255, 0
	for _, f := range m.MediaName.Formats {
		codec := rtpmap(m, f)
		switch {
		case c.pt == 255 && (f == "0" || strings.HasPrefix(codec, "PCMU/8000")):
			c.pt = 0
			pts = append([]string{f}, pts...)
		case c.pt == 255 && (f == "8" || strings.HasPrefix(codec, "PCMA/8000")):
			c.pt = 8
			pts = append([]string{f}, pts...)
		case c.evPT == 0 && strings.HasPrefix(strings.ToLower(codec), "telephone-event/8000"):
			n, _ := strconv.Atoi(f)
			c.evPT = uint8(n)
			pts = append(pts, f)
		}
	}
	if c.pt == 255 {
		return "", errors.New("siptest: no G.711 codec in the offer")
	}
	c.remote = addr
	c.send = dir != "recvonly" && dir != "inactive"
	return c.sdp(mirror(dir), pts), nil
}

// takeAnswer reads the answer to our offer.
func (c *PlainCall) takeAnswer(answer string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, addr, dir, err := audioOf(answer)
	if err != nil {
		return err
	}
	c.remote = addr
	c.send = dir == "sendrecv" || dir == "recvonly"
	return nil
}

func mirror(dir string) string {
	switch dir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// audioOf returns the first live audio m-line, its RTP address and its
// direction; it refuses anything but RTP/AVP (a plain phone).
func audioOf(s string) (*sdp.MediaDescription, *net.UDPAddr, string, error) {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(s); err != nil {
		return nil, nil, "", fmt.Errorf("siptest: SDP: %w", err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		if p := strings.Join(m.MediaName.Protos, "/"); p != "RTP/AVP" {
			return nil, nil, "", fmt.Errorf("siptest: plain UA cannot use %s", p)
		}
		host := ""
		if m.ConnectionInformation != nil && m.ConnectionInformation.Address != nil {
			host = m.ConnectionInformation.Address.Address
		} else if sd.ConnectionInformation != nil && sd.ConnectionInformation.Address != nil {
			host = sd.ConnectionInformation.Address.Address
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return nil, nil, "", fmt.Errorf("siptest: no connection address")
		}
		dir := "sendrecv"
		for _, d := range []string{"sendonly", "recvonly", "inactive"} {
			if _, ok := m.Attribute(d); ok {
				dir = d
			}
		}
		return m, &net.UDPAddr{IP: ip, Port: m.MediaName.Port.Value}, dir, nil
	}
	return nil, nil, "", fmt.Errorf("siptest: no live audio stream in:\n%s", s)
}

func rtpmap(m *sdp.MediaDescription, pt string) string {
	for _, a := range m.Attributes {
		if a.Key == "rtpmap" && strings.HasPrefix(a.Value, pt+" ") {
			return strings.TrimPrefix(a.Value, pt+" ")
		}
	}
	return ""
}

func (c *PlainCall) readRTP() {
	buf := make([]byte, 1500)
	for {
		n, err := c.rtpConn.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		c.mu.Lock()
		evPT, pt := c.evPT, c.pt
		c.mu.Unlock()
		switch {
		case evPT != 0 && p.PayloadType == evPT:
			c.events.Add(1)
			if len(p.Payload) > 0 {
				c.lastEvent.Store(int64(p.Payload[0]) + 1)
			}
		case p.PayloadType == pt:
			c.received.Add(1)
		}
	}
}

// sendRTP sends 160 bytes of G.711 silence every 20 ms while allowed.
func (c *PlainCall) sendRTP() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	p := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: plainSSRC}, Payload: make([]byte, 160)}
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		remote, send, pt := c.remote, c.send, c.pt
		c.mu.Unlock()
		p.SequenceNumber++
		p.Timestamp += 160
		if remote == nil || !send {
			continue
		}
		p.PayloadType = pt
		fill := byte(0xff)
		if pt == 8 {
			fill = 0xd5
		}
		for i := range p.Payload {
			p.Payload[i] = fill
		}
		b, _ := p.Marshal()
		if _, err := c.rtpConn.WriteToUDP(b, remote); err == nil {
			c.sent.Add(1)
		}
	}
}

func (c *PlainCall) stopMedia() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
}

func (c *PlainCall) end() {
	c.endOnce.Do(func() {
		c.stopMedia()
		_ = c.rtpConn.Close()
		close(c.Ended)
	})
}
