package siptest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gorilla/websocket"
	"github.com/icholy/digest"
)

// StreamUA is a SIP user agent on one connection (WS, TCP, TLS, or a
// connected UDP socket) written
// from raw messages, the way browser stacks behave (RFC 7118 §5): its Via
// and Contact host is "<random>.invalid", which never resolves, so it can
// only be reached over its own connection. It answers OPTIONS, BYE and
// CANCEL itself, answers INVITEs as its Answer policy says, and records
// every request it receives in Requests.
type StreamUA struct {
	// Transport is WS, TCP, TLS or UDP.
	Transport string
	// User is the AOR user; Host the unresolvable host of Via and Contact.
	User, Host string
	// Requests receives every request that arrives (full channel: dropped).
	Requests chan *sip.Request
	// Answer decides how an INVITE is answered: the status (100-699) and,
	// for 2xx, the SDP body. nil rings (180) and never answers.
	Answer func(req *sip.Request) (code int, sdp string)
	// Cancel, when set, takes a CANCEL and the ringing INVITE it cancels
	// (nil if none) instead of the UA's own 200 and 487 (see Reply).
	Cancel func(cancel, invite *sip.Request)
	// Ignore, when set and true for a request, leaves it unanswered (it is
	// still recorded): a UA that went away in the middle of a transaction.
	Ignore func(req *sip.Request) bool

	ws     *websocket.Conn
	conn   net.Conn
	wmu    sync.Mutex
	resps  chan *sip.Response
	closed chan struct{}
	once   sync.Once
	cseq   atomic.Uint32
	callID string

	mu      sync.Mutex
	invites map[string]*sip.Request // pending INVITEs by Call-ID
}

// DialStream connects a StreamUA for user to a gateway address: WS to
// ws://addr+path, TCP to addr, TLS to addr (certificate not verified), UDP
// from a socket of its own to addr.
func DialStream(ctx context.Context, transport, addr, path, user string) (*StreamUA, error) {
	u := &StreamUA{Transport: strings.ToUpper(transport), User: user, Host: randomHex(6) + ".invalid",
		Requests: make(chan *sip.Request, 64), resps: make(chan *sip.Response, 64),
		closed: make(chan struct{}), callID: randomHex(10), invites: map[string]*sip.Request{}}
	u.cseq.Store(1)
	var err error
	switch u.Transport {
	case "WS":
		d := websocket.Dialer{Subprotocols: []string{"sip"}, HandshakeTimeout: 5 * time.Second}
		u.ws, _, err = d.DialContext(ctx, "ws://"+addr+path, nil)
	case "TCP":
		var d net.Dialer
		u.conn, err = d.DialContext(ctx, "tcp", addr)
	case "UDP":
		var d net.Dialer
		u.conn, err = d.DialContext(ctx, "udp", addr)
	case "TLS":
		d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test peer, self-signed gateway
		u.conn, err = d.DialContext(ctx, "tcp", addr)
	default:
		return nil, fmt.Errorf("siptest: unknown transport %q", transport)
	}
	if err != nil {
		return nil, fmt.Errorf("siptest: dial %s %s: %w", transport, addr, err)
	}
	go u.readLoop()
	return u, nil
}

// viaTransport is what the UA writes in Via: JsSIP and SIP.js say WSS even
// over plain WebSocket.
func (u *StreamUA) viaTransport() string {
	if u.Transport == "WS" {
		return "WSS"
	}
	return u.Transport
}

// Contact is the UA's Contact URI, as JsSIP builds it.
func (u *StreamUA) Contact() string {
	return "sip:" + u.User + "@" + u.Host + ";transport=" + strings.ToLower(u.Transport)
}

// Close closes the connection (the gateway sees the flow close).
func (u *StreamUA) Close() error {
	u.once.Do(func() { close(u.closed) })
	if u.ws != nil {
		return u.ws.Close()
	}
	return u.conn.Close()
}

// Send writes one SIP message.
func (u *StreamUA) Send(msg string) error {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	if u.ws != nil {
		return u.ws.WriteMessage(websocket.TextMessage, []byte(msg))
	}
	_, err := io.WriteString(u.conn, msg)
	return err
}

func (u *StreamUA) readLoop() {
	defer u.once.Do(func() { close(u.closed) })
	var br *bufio.Reader
	if u.conn != nil && u.Transport != "UDP" {
		br = bufio.NewReader(u.conn)
	}
	for {
		raw, err := u.readMessage(br)
		if err != nil {
			return
		}
		msg, err := sip.NewParser().ParseSIP(raw)
		if err != nil {
			continue
		}
		switch m := msg.(type) {
		case *sip.Response:
			select {
			case u.resps <- m:
			default:
			}
		case *sip.Request:
			u.onRequest(m)
		}
	}
}

func (u *StreamUA) readMessage(br *bufio.Reader) ([]byte, error) {
	if u.ws != nil {
		_, data, err := u.ws.ReadMessage()
		return data, err
	}
	if br == nil { // UDP: one datagram is one message
		buf := make([]byte, 65535)
		n, err := u.conn.Read(buf)
		return buf[:n], err
	}
	var head strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if head.Len() == 0 && strings.TrimSpace(line) == "" {
			continue // keep-alive CRLF
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(k, "Content-Length") || k == "l") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	return append([]byte(head.String()), body...), nil
}

func (u *StreamUA) onRequest(req *sip.Request) {
	select {
	case u.Requests <- req:
	default:
	}
	if u.Ignore != nil && u.Ignore(req) {
		return
	}
	switch req.Method {
	case sip.OPTIONS, sip.BYE, sip.UPDATE, sip.INFO:
		_ = u.Send(u.response(req, 200, "OK", "", ""))
	case sip.CANCEL:
		if u.Cancel != nil {
			u.Cancel(req, u.takeInvite(req.CallID().Value()))
			return
		}
		_ = u.Send(u.response(req, 200, "OK", "", ""))
		if inv := u.takeInvite(req.CallID().Value()); inv != nil {
			_ = u.Send(u.response(inv, 487, "Request Terminated", "", ""))
		}
	case sip.INVITE:
		u.onInvite(req)
	}
}

func (u *StreamUA) onInvite(req *sip.Request) {
	tag := "ua" + randomHex(4)
	req.To().Params.Add("tag", tag)
	if u.Answer == nil {
		u.mu.Lock()
		u.invites[req.CallID().Value()] = req
		u.mu.Unlock()
		_ = u.Send(u.response(req, 180, "Ringing", "", ""))
		return
	}
	code, body := u.Answer(req)
	ctype := ""
	if body != "" {
		ctype = "application/sdp"
	}
	_ = u.Send(u.response(req, code, statusText(code), ctype, body))
}

// Reply sends a response to a request the UA received (an INVITE's keeps
// the UA's To tag), with sdp as its body when not empty.
func (u *StreamUA) Reply(req *sip.Request, code int, sdp string) error {
	ctype := ""
	if sdp != "" {
		ctype = "application/sdp"
	}
	return u.Send(u.response(req, code, statusText(code), ctype, sdp))
}

func (u *StreamUA) takeInvite(callID string) *sip.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.invites[callID]
	delete(u.invites, callID)
	return r
}

// response builds a response to req (its To tag, if any, is kept).
func (u *StreamUA) response(req *sip.Request, code int, reason, ctype, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, v := range req.GetHeaders("Via") {
		fmt.Fprintf(&b, "Via: %s\r\n", v.Value())
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", req.From().Value(), req.To().Value(),
		req.CallID().Value(), req.CSeq().Value())
	if req.Method == sip.INVITE && code < 300 {
		fmt.Fprintf(&b, "Contact: <%s>\r\n", u.Contact())
	}
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// Request sends a request built from the given lines (without Via,
// Call-ID, CSeq and Content-Length, which it adds) and waits for its final
// response. A 401 is answered once with password, when given.
func (u *StreamUA) Request(ctx context.Context, method, ruri string, hdrs []string, body, password string) (*sip.Response, error) {
	res, err := u.transact(ctx, method, ruri, hdrs, body)
	if err != nil || res.StatusCode != 401 || password == "" {
		return res, err
	}
	h := res.GetHeader("WWW-Authenticate")
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return nil, fmt.Errorf("siptest: challenge: %w", err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: ruri, Username: u.User, Password: password,
		Cnonce: randomHex(8), Count: 1})
	if err != nil {
		return nil, fmt.Errorf("siptest: digest: %w", err)
	}
	return u.transact(ctx, method, ruri, append(hdrs, "Authorization: "+cred.String()), body)
}

func (u *StreamUA) transact(ctx context.Context, method, ruri string, hdrs []string, body string) (*sip.Response, error) {
	cseq := u.cseq.Add(1)
	branch := "z9hG4bK" + randomHex(8)
	callID := u.callID
	for _, h := range hdrs {
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Call-ID") {
			callID = strings.TrimSpace(v)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=%s;rport\r\nMax-Forwards: 70\r\n", method, ruri,
		u.viaTransport(), u.Host, branch)
	if callID == u.callID {
		fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	}
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if err := u.Send(b.String()); err != nil {
		return nil, err
	}
	for {
		select {
		case res := <-u.resps:
			if v := res.Via(); v == nil || v.Params == nil || !hasBranch(v, branch) {
				continue
			}
			if res.StatusCode >= 300 && method == "INVITE" {
				_ = u.Send(ackNon2xx(b.String(), res))
			}
			if res.StatusCode >= 200 {
				return res, nil
			}
		case <-u.closed:
			return nil, errors.New("siptest: connection closed")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ackNon2xx acknowledges a failure response to the INVITE req (RFC 3261
// §17.1.1.3: same branch, the response's To).
func ackNon2xx(req string, res *sip.Response) string {
	line, rest, _ := strings.Cut(req, "\r\n")
	ruri := strings.Fields(line)[1]
	var b strings.Builder
	fmt.Fprintf(&b, "ACK %s SIP/2.0\r\n", ruri)
	for _, h := range strings.Split(rest, "\r\n") {
		k, _, _ := strings.Cut(h, ":")
		if k == "Via" || k == "From" || k == "Call-ID" || k == "Max-Forwards" {
			b.WriteString(h + "\r\n")
		}
	}
	fmt.Fprintf(&b, "To: %s\r\nCSeq: %d ACK\r\nContent-Length: 0\r\n\r\n", res.To().Value(), res.CSeq().SeqNo)
	return b.String()
}

func hasBranch(v *sip.ViaHeader, branch string) bool {
	b, _ := v.Params.Get("branch")
	return b == branch
}

// Register registers Contact() for expires seconds (a negative value sends
// no Expires) with digest; extra lines are added to the request.
func (u *StreamUA) Register(ctx context.Context, registrar, password string, expires int, extra ...string) (*sip.Response, error) {
	aor := "sip:" + u.User + "@" + registrar
	hdrs := []string{"From: <" + aor + ">;tag=" + randomHex(4), "To: <" + aor + ">",
		"Contact: <" + u.Contact() + ">;+sip.instance=\"<urn:uuid:" + u.callID + ">\";reg-id=1"}
	if expires >= 0 {
		hdrs = append(hdrs, "Expires: "+strconv.Itoa(expires))
	}
	return u.Request(ctx, sip.REGISTER.String(), "sip:"+registrar, append(hdrs, extra...), "", password)
}

// Invite calls target with sdp (digest with password when challenged); on
// 2xx it sends the ACK and returns the response.
func (u *StreamUA) Invite(ctx context.Context, target, sdp, password string) (*sip.Response, error) {
	callID := randomHex(12)
	hdrs := []string{"From: <sip:" + u.User + "@" + u.Host + ">;tag=" + randomHex(4), "To: <" + target + ">",
		"Call-ID: " + callID, "Contact: <" + u.Contact() + ">", "Content-Type: application/sdp"}
	res, err := u.Request(ctx, "INVITE", target, hdrs, sdp, password)
	if err != nil || res.StatusCode >= 300 {
		return res, err
	}
	return res, u.Send(u.inDialog(res, "ACK", res.CSeq().SeqNo))
}

// Bye ends the dialog of a 2xx that Invite returned.
func (u *StreamUA) Bye(res *sip.Response) error {
	return u.Send(u.inDialog(res, "BYE", res.CSeq().SeqNo+1))
}

// inDialog builds an ACK or BYE in the dialog of our INVITE's 2xx res.
func (u *StreamUA) inDialog(res *sip.Response, method string, cseq uint32) string {
	target := res.Contact().Address.String()
	return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n", method, target,
		u.viaTransport(), u.Host, randomHex(8), res.From().Value(), res.To().Value(), res.CallID().Value(), cseq, method)
}

// WaitRequest returns the next received request of method within d.
func (u *StreamUA) WaitRequest(method string, d time.Duration) (*sip.Request, error) {
	deadline := time.After(d)
	for {
		select {
		case r := <-u.Requests:
			if string(r.Method) == method {
				return r, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("siptest: no %s within %v", method, d)
		}
	}
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 180:
		return "Ringing"
	case 486:
		return "Busy Here"
	case 603:
		return "Decline"
	}
	return "Status"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
