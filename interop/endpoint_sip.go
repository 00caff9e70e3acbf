package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/internal/sippool"
)

// sipAgent is a SIP party: a sipgo user agent on UDP whose calls carry a
// pion media end, the way a WebRTC-capable SIP endpoint (Asterisk with
// webrtc=yes) works: vanilla ICE, complete SDPs with every candidate,
// DTLS-SRTP. As a caller it INVITEs sip:<escaped target>@<gateway>; as a
// callee it is sip:<user>@<its address> and waits for the INVITE.
type sipAgent struct {
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	srvDlg  *sipgo.DialogServerCache
	cliDlg  *sipgo.DialogClientCache
	conn    net.PacketConn
	ln      net.Listener
	user    string
	host    string // the host:port of our address
	contact sip.ContactHeader
	gw      string // the gateway's host:port (callers)

	end   sipMedia // pion (ICE, DTLS-SRTP) or plain RTP
	ev    *EventLog
	tr    *Transcript
	party string
	log   *slog.Logger

	mu        sync.Mutex
	out       *sipgo.DialogClientSession // our outgoing call
	in        *sipgo.DialogServerSession // our incoming call
	inReq     *sip.Request
	cancel    context.CancelFunc // cancels WaitAnswer (sends CANCEL)
	waitDone  chan struct{}      // closed when waitAnswer has returned
	answered  bool
	byeReason *Event // the Reason of a BYE received
	ended     bool
	closed    bool
	final     chan struct{} // closed once our final response to the INVITE went out
	finalOnce sync.Once
}

// newSIPAgent binds the UA and prepares the media end.
func newSIPAgent(ctx context.Context, o agentOptions) (*sipAgent, error) {
	if o.dep.SIP == nil {
		return nil, errors.New("interop: no SIP deployment")
	}
	sipgoLogOnce.Do(func() { sip.SetDefaultLogger(quiet(o.dep.logger())) })
	end, err := newSIPMedia(o)
	if err != nil {
		return nil, err
	}
	user := o.name
	if o.party.Agent == PlainRTP {
		user = plainRTPUserPrefix + o.name // the deployment anchors these
	}
	a := &sipAgent{user: user, end: end, ev: NewEventLog(), tr: o.tr, party: o.role.String(), log: o.log,
		gw: sipHostPort(o.dep.SIP.Gateway), final: make(chan struct{})}
	d := *o.dep.SIP
	if o.role == roleCaller && d.Listen != "" {
		// Only callees need the address the deployment routes to; a
		// caller takes a free port on the same host (a SIP → SIP probe
		// runs both at once).
		host, _, err := net.SplitHostPort(d.Listen)
		if err != nil {
			_ = end.close()
			return nil, fmt.Errorf("interop: --sip-listen %q: %w", d.Listen, err)
		}
		d.Listen, d.Domain = net.JoinHostPort(host, "0"), ""
	}
	if err := a.listen(ctx, &d); err != nil {
		_ = end.close()
		return nil, err
	}
	return a, nil
}

// plainRTPUserPrefix starts the user part of plain-RTP callees: a
// deployment routes sip:plainrtp-*@<domain> with `media: rtpengine`.
const plainRTPUserPrefix = "plainrtp-"

// newSIPMedia is the media end of a SIP party: plain RTP on the SIP
// host's address for the plain-RTP agent, else a pion WebRTC end.
func newSIPMedia(o agentOptions) (sipMedia, error) {
	if o.party.Agent != PlainRTP {
		return newPionEnd(o.label, o.media, o.role == roleCaller, o.party.WithholdCandidates, o.log)
	}
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(o.dep.SIP.Listen); err == nil && h != "" && net.ParseIP(h) != nil {
		host = h
	}
	return newRTPEnd(host)
}

// sipgoLogOnce routes sipgo's package logger (its connection bookkeeping
// warnings) to the harness's log at debug level, once, before any SIP
// transport of the harness exists (the gateway runs in its own process).
var sipgoLogOnce sync.Once

// sipHostPort reads host:port from "sip:host:port" (or a bare host:port).
func sipHostPort(uri string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(uri, "sips:"), "sip:")
	if _, h, ok := strings.Cut(s, "@"); ok {
		s = h
	}
	s, _, _ = strings.Cut(s, ";")
	return s
}

// listen binds UDP and TCP on the same port (RFC 3261 §18: a UA takes
// both; a gateway sends requests over 1300 bytes, such as a WebRTC offer,
// over TCP) and starts serving.
func (a *sipAgent) listen(ctx context.Context, d *SIPDeployment) error {
	addr := d.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	conn, ln, err := listenUDPTCP(addr)
	if err != nil {
		return err
	}
	a.conn = &loggingConn{PacketConn: conn, tr: a.tr, party: a.party}
	a.ln = &loggingListener{Listener: ln, tr: a.tr, party: a.party}
	a.host = conn.LocalAddr().String()
	if d.Domain != "" && d.Listen != "" && !strings.HasSuffix(d.Listen, ":0") {
		a.host = d.Domain
	}
	if err := a.setupUA(conn.LocalAddr().(*net.UDPAddr)); err != nil {
		_ = conn.Close()
		_ = ln.Close()
		return err
	}
	go func() { _ = a.srv.ServeUDP(a.conn) }()
	go func() { _ = a.srv.ServeTCP(a.ln) }()
	return sippool.WaitPooled(ctx, a.ua, conn.LocalAddr().String())
}

// listenUDPTCP binds UDP and TCP on addr; port 0 picks a port free for both.
func listenUDPTCP(addr string) (net.PacketConn, net.Listener, error) {
	for range 20 {
		conn, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("interop: sip listen %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp4", conn.LocalAddr().String())
		if err == nil {
			return conn, ln, nil
		}
		_ = conn.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return nil, nil, fmt.Errorf("interop: sip listen tcp %s: %w", addr, err)
		}
	}
	return nil, nil, fmt.Errorf("interop: no port free for UDP and TCP on %s", addr)
}

func (a *sipAgent) setupUA(laddr *net.UDPAddr) error {
	log := quiet(a.log) // sipgo's warnings are about its own bookkeeping
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("sigbridge-interop"), sipgo.WithUserAgentHostname(laddr.IP.String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)))
	if err != nil {
		return fmt.Errorf("interop: sip ua: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		return fmt.Errorf("interop: sip server: %w", err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname(laddr.IP.String()), sipgo.WithClientPort(laddr.Port),
		sipgo.WithClientLogger(log))
	if err != nil {
		return fmt.Errorf("interop: sip client: %w", err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: a.user, Host: laddr.IP.String(), Port: laddr.Port}}
	a.ua, a.srv, a.cli, a.contact = ua, srv, cli, contact
	a.srvDlg = sipgo.NewDialogServerCache(cli, contact)
	a.cliDlg = sipgo.NewDialogClientCache(cli, contact)
	srv.OnInvite(a.onInvite)
	srv.OnAck(a.onAck)
	srv.OnBye(a.onBye)
	srv.OnInfo(a.onInfo)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return nil
}

// Address implements Agent.
func (a *sipAgent) Address() string { return "sip:" + a.user + "@" + a.host }

// Events implements Agent.
func (a *sipAgent) Events() *EventLog { return a.ev }

// Media implements Agent.
func (a *sipAgent) Media() MediaEnd { return a.end }

// Call implements Agent: a complete offer in an INVITE to the gateway,
// then the answer is awaited in the background (ringing and the final
// response become events).
func (a *sipAgent) Call(ctx context.Context, target string) error {
	if err := a.end.offer(""); err != nil {
		return err
	}
	offer, err := a.end.completeSDP(ctx)
	if err != nil {
		return err
	}
	uri := sip.Uri{Scheme: "sip", User: escapeSIPUser(target)}
	uri.Host, uri.Port = splitHostPort(a.gw)
	sess, err := a.cliDlg.Invite(ctx, uri, []byte(offer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return fmt.Errorf("interop: INVITE: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.mu.Lock()
	a.out, a.cancel, a.waitDone = sess, cancel, done
	a.mu.Unlock()
	go func() {
		defer close(done)
		a.waitAnswer(wctx, sess)
	}()
	return nil
}

// waitAnswer follows the INVITE transaction: 18x → ringing, 2xx → ACK
// and answered, anything else → ended with the status's condition.
func (a *sipAgent) waitAnswer(ctx context.Context, sess *sipgo.DialogClientSession) {
	rang := false
	err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if (r.StatusCode == 180 || r.StatusCode == 183) && !rang {
			rang = true
			a.ev.Add(Event{Kind: EvRinging, Code: r.StatusCode})
		}
		return nil
	}})
	var dr *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr):
		a.endCall(Event{Kind: EvEnded, Reason: conditionForSIP(dr.Res.StatusCode), Code: dr.Res.StatusCode})
		return
	case err != nil:
		a.endCall(Event{Kind: EvEnded, Reason: "harness", Detail: err.Error()})
		return
	}
	if err := a.acceptAnswer(sess); err != nil {
		a.tr.Add(a.party, "note", "the answer was not taken: "+err.Error())
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		return
	}
	go a.watchDialog(sess.Context().Done())
}

func (a *sipAgent) acceptAnswer(sess *sipgo.DialogClientSession) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	if err := sess.Ack(ctx); err != nil {
		return fmt.Errorf("interop: ACK: %w", err)
	}
	if err := a.end.setRemote(webrtc.SDPTypeAnswer, string(sess.InviteResponse.Body())); err != nil {
		return err
	}
	a.mu.Lock()
	a.answered = true
	a.mu.Unlock()
	a.ev.Add(Event{Kind: EvAnswered})
	return nil
}

// watchDialog turns the end of an established dialog into an event.
func (a *sipAgent) watchDialog(done <-chan struct{}) {
	<-done
	a.mu.Lock()
	e := a.byeReason
	a.mu.Unlock()
	if e == nil {
		e = &Event{Kind: EvEnded, Reason: "success", Code: 200}
	}
	a.endCall(*e)
}

// endCall records the end of the call once.
func (a *sipAgent) endCall(e Event) {
	a.mu.Lock()
	already := a.ended || a.closed
	a.ended = true
	a.mu.Unlock()
	if !already {
		a.ev.Add(e)
	}
}

// onInvite takes a new call (callee) or a re-INVITE in a dialog.
func (a *sipAgent) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		a.onReinvite(req, tx)
		return
	}
	if req.Recipient.User != a.user {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	sess, err := a.srvDlg.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	_ = sess.Respond(100, "Trying", nil)
	if err := a.end.setRemote(webrtc.SDPTypeOffer, string(req.Body())); err != nil {
		_ = sess.Respond(488, "Not Acceptable Here", nil)
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		return
	}
	a.mu.Lock()
	a.in, a.inReq = sess, req
	a.mu.Unlock()
	a.ev.Add(Event{Kind: EvIncoming, Detail: req.From().Address.String()})
	go a.watchIncoming(sess)
	// sipgo ends the transaction when the handler returns: stay until the
	// final response went out or the transaction ended (CANCEL).
	select {
	case <-a.final:
	case <-tx.Done():
	}
}

func (a *sipAgent) finalSent() { a.finalOnce.Do(func() { close(a.final) }) }

// watchIncoming reports a CANCEL (the dialog ends before our answer) or
// a BYE (after it).
func (a *sipAgent) watchIncoming(sess *sipgo.DialogServerSession) {
	<-sess.Context().Done()
	a.mu.Lock()
	answered, e := a.answered, a.byeReason
	a.mu.Unlock()
	switch {
	case e != nil:
		a.endCall(*e)
	case answered:
		a.endCall(Event{Kind: EvEnded, Reason: "success", Code: 200})
	default:
		a.endCall(Event{Kind: EvEnded, Reason: "cancel", Code: 487})
	}
}

// onReinvite answers an in-dialog offer with our complete answer.
func (a *sipAgent) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	offer := string(req.Body())
	if err := a.end.answer(offer); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	answer, err := a.end.completeSDP(ctx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return
	}
	res := sip.NewSDPResponseFromRequest(req, []byte(answer))
	res.AppendHeader(sip.HeaderClone(&a.contact))
	if err := tx.Respond(res); err != nil {
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		return
	}
	a.ev.Add(Event{Kind: EvReoffer, Detail: directions(offer)})
}

func (a *sipAgent) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = a.srvDlg.ReadAck(req, tx)
}

// onBye notes the BYE's Reason, then lets the dialog cache answer it.
func (a *sipAgent) onBye(req *sip.Request, tx sip.ServerTransaction) {
	e := byeEvent(req)
	a.mu.Lock()
	a.byeReason = &e
	a.mu.Unlock()
	if err := a.srvDlg.ReadBye(req, tx); err == nil {
		return
	}
	if err := a.cliDlg.ReadBye(req, tx); err == nil {
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

// byeEvent reads an RFC 3326 Reason header ("SIP;cause=486") of a BYE;
// without one the call ended normally.
func byeEvent(req *sip.Request) Event {
	e := Event{Kind: EvEnded, Reason: "success", Code: 200}
	h := req.GetHeader("Reason")
	if h == nil {
		return e
	}
	v := h.Value()
	if i := strings.Index(v, "cause="); i >= 0 && strings.HasPrefix(strings.ToUpper(v), "SIP") {
		num := strings.TrimLeft(v[i+6:], " ")
		if j := strings.IndexAny(num, ";, "); j >= 0 {
			num = num[:j]
		}
		if code, err := strconv.Atoi(num); err == nil && code != 200 {
			e.Code, e.Reason = code, conditionForSIP(code)
		}
	}
	e.Detail = v
	return e
}

// Ring implements Agent: 180 Ringing.
func (a *sipAgent) Ring(context.Context) error {
	sess := a.incoming()
	if sess == nil {
		return errors.New("interop: no incoming call")
	}
	return sess.Respond(180, "Ringing", nil)
}

func (a *sipAgent) incoming() *sipgo.DialogServerSession {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.in
}

// Answer implements Agent: 200 with our complete answer; the ACK is
// awaited in the background.
func (a *sipAgent) Answer(ctx context.Context) error {
	sess := a.incoming()
	if sess == nil {
		return errors.New("interop: no incoming call")
	}
	if err := a.end.answerRemote(); err != nil {
		return err
	}
	answer, err := a.end.completeSDP(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.answered = true
	a.mu.Unlock()
	go func() {
		defer a.finalSent()
		if err := sess.RespondSDP([]byte(answer)); err != nil {
			a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: "200 OK: " + err.Error()})
		}
	}()
	return nil
}

// Reject implements Agent: 486 Busy Here or 603 Decline.
func (a *sipAgent) Reject(_ context.Context, why Outcome) error {
	sess := a.incoming()
	if sess == nil {
		return errors.New("interop: no incoming call")
	}
	defer a.finalSent()
	if why == Busy {
		return sess.Respond(486, "Busy Here", nil)
	}
	return sess.Respond(603, "Decline", nil)
}

// HangUp implements Agent: CANCEL before the answer (caller), BYE after.
func (a *sipAgent) HangUp(ctx context.Context) error {
	a.mu.Lock()
	out, in, answered, cancel := a.out, a.in, a.answered, a.cancel
	a.mu.Unlock()
	switch {
	case out != nil && !answered:
		cancel() // WaitAnswer sends CANCEL
		return nil
	case out != nil:
		return out.Bye(ctx)
	case in != nil && answered:
		return in.Bye(ctx)
	case in != nil:
		defer a.finalSent()
		return in.Respond(603, "Decline", nil)
	}
	return errors.New("interop: no call to hang up")
}

// Reoffer implements Agent: a re-INVITE with a complete offer, ACKed.
func (a *sipAgent) Reoffer(ctx context.Context, dir string) error {
	a.mu.Lock()
	out := a.out
	a.mu.Unlock()
	if out == nil {
		return errors.New("interop: re-INVITE from a callee is not supported")
	}
	if err := a.end.offer(dir); err != nil {
		return err
	}
	offer, err := a.end.completeSDP(ctx)
	if err != nil {
		return err
	}
	go a.reinvite(out, offer)
	return nil
}

func (a *sipAgent) reinvite(out *sipgo.DialogClientSession, offer string) {
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, out.InviteResponse.Contact().Address)
	req.SetBody([]byte(offer))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := out.Do(ctx, req)
	if err != nil || !res.IsSuccess() {
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: fmt.Sprintf("re-INVITE: %v %v", res, err)})
		return
	}
	ack := sip.NewRequest(sip.ACK, out.InviteResponse.Contact().Address)
	if err := out.WriteRequest(ack); err != nil {
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: "ACK: " + err.Error()})
	}
	if err := a.end.setRemote(webrtc.SDPTypeAnswer, string(res.Body())); err != nil {
		a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		return
	}
	a.ev.Add(Event{Kind: EvReanswered, Detail: directions(string(res.Body()))})
}

// Vanish implements Agent: the UA stops answering, no BYE.
func (a *sipAgent) Vanish() error {
	a.tr.Add(a.party, "sent", "<SIP endpoint gone without BYE>")
	return a.shutdown()
}

// Close implements Agent: a call still up is hung up (BYE, bounded) so
// that it does not outlive the scenario in the gateway.
func (a *sipAgent) Close() error {
	a.mu.Lock()
	cancel, waitDone, out, in, live := a.cancel, a.waitDone, a.out, a.in, a.answered && !a.ended && !a.closed
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if waitDone != nil {
		// A CANCEL that WaitAnswer sent must have its answer before the
		// UA closes: sipgo's Terminate of a client transaction closes
		// Done before it sets Err, and its CANCEL then dereferences a nil
		// response (a panic that ended the interop test binary once).
		select {
		case <-waitDone:
		case <-time.After(5 * time.Second):
		}
	}
	if live {
		ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
		switch {
		case out != nil:
			_ = out.Bye(ctx)
		case in != nil:
			_ = in.Bye(ctx)
		}
		stop()
	}
	return a.shutdown()
}

func (a *sipAgent) shutdown() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.finalSent()
	err := errors.Join(a.ua.Close(), a.conn.Close(), a.ln.Close(), a.end.close())
	a.ev.Close(errors.New("interop: SIP agent closed"))
	return err
}

// conditionForSIP maps a final SIP status to the Jingle condition of
// protocols.md §5.6.
func conditionForSIP(code int) string {
	switch code {
	case 200:
		return "success"
	case 486, 600:
		return "busy"
	case 603, 607, 608, 403:
		return "decline"
	case 404, 410, 480, 484, 604:
		return "gone"
	case 408, 504:
		return "timeout"
	case 487:
		return "cancel"
	case 488, 606, 415:
		return "incompatible-parameters"
	case 401, 407:
		return "security-error"
	case 502, 503:
		return "connectivity-error"
	}
	return "general-error"
}

// escapeSIPUser percent-escapes a target for a Request-URI user part:
// everything but letters, digits and -_.~ .
func escapeSIPUser(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func splitHostPort(hp string) (string, int) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return hp, 5060
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

// loggingConn copies every SIP message in and out to the transcript.
type loggingConn struct {
	net.PacketConn
	tr    *Transcript
	party string
}

func (c *loggingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if n > 0 {
		c.tr.Add(c.party, "recv", sipSummary(p[:n]))
	}
	return n, addr, err
}

func (c *loggingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.tr.Add(c.party, "sent", sipSummary(p))
	return c.PacketConn.WriteTo(p, addr)
}

// loggingListener copies every SIP message of its TCP connections to the
// transcript.
type loggingListener struct {
	net.Listener
	tr    *Transcript
	party string
}

func (l *loggingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &loggingStream{Conn: c, tr: l.tr, party: l.party}, nil
}

// loggingStream logs a TCP connection's SIP messages: each write is one
// message; reads are reassembled by Content-Length.
type loggingStream struct {
	net.Conn
	tr    *Transcript
	party string
	mu    sync.Mutex
	buf   []byte
}

func (c *loggingStream) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.buf = append(c.buf, p[:n]...)
		for {
			msg, rest, ok := nextSIPMessage(c.buf)
			if !ok {
				break
			}
			c.tr.Add(c.party, "recv", "(tcp) "+sipSummary(msg))
			c.buf = rest
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *loggingStream) Write(p []byte) (int, error) {
	if len(strings.TrimSpace(string(p))) > 0 {
		c.tr.Add(c.party, "sent", "(tcp) "+sipSummary(p))
	}
	return c.Conn.Write(p)
}

// nextSIPMessage cuts the first whole message (head and Content-Length
// body) off a stream buffer; keep-alive CRLFs are skipped.
func nextSIPMessage(b []byte) (msg, rest []byte, ok bool) {
	s := strings.TrimLeft(string(b), "\r\n")
	skipped := len(b) - len(s)
	head, _, found := strings.Cut(s, "\r\n\r\n")
	if !found {
		return nil, b, false
	}
	length := 0
	for _, l := range strings.Split(head, "\r\n")[1:] {
		name, v, _ := strings.Cut(l, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	end := skipped + len(head) + 4 + length
	if end > len(b) {
		return nil, b, false
	}
	return b[skipped:end], b[end:], true
}

// quiet demotes a library's log records to debug: they are diagnostics of
// the harness, not findings about the deployment.
func quiet(l *slog.Logger) *slog.Logger { return slog.New(demoted{l.Handler()}) }

type demoted struct{ h slog.Handler }

func (d demoted) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d demoted) Handle(ctx context.Context, r slog.Record) error {
	r2 := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	return d.h.Handle(ctx, r2)
}

func (d demoted) WithAttrs(as []slog.Attr) slog.Handler { return demoted{d.h.WithAttrs(as)} }
func (d demoted) WithGroup(g string) slog.Handler       { return demoted{d.h.WithGroup(g)} }

// sipSummary is a SIP message's start line, CSeq and Reason, and the size
// of its body.
func sipSummary(p []byte) string {
	head, body, _ := strings.Cut(string(p), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	parts := []string{lines[0]}
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "cseq", "reason", "warning":
			parts = append(parts, strings.TrimSpace(l))
		}
	}
	if len(body) > 0 {
		parts = append(parts, fmt.Sprintf("(sdp %d bytes: %s)", len(body), directions(body)))
	}
	return strings.Join(parts, " | ")
}

// sipgo refuses UDP datagrams longer than sip.UDPMTUSize-200 bytes, and a
// complete WebRTC SDP is longer. Like the gateway's SIP adapter (and
// Asterisk, FreeSWITCH), the harness sends them anyway and relies on IP
// fragmentation: sipgo has no per-transport option, so the package
// variable is raised once, before any transport exists.
func init() {
	if min := int(sip.TransportBufferReadSize) + 200; sip.UDPMTUSize < min {
		sip.UDPMTUSize = min
	}
}
