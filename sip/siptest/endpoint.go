package siptest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/sigbridge/sigbridge/internal/sippool"
)

// Endpoint is a WebRTC-capable SIP user agent for tests, standing in for an
// Asterisk endpoint with webrtc=yes: vanilla ICE both ways. Called, it takes
// the complete SDP offer and answers 200 with a complete SDP (all its
// gathered candidates); calling, it sends a complete offer. Each call's
// media is a Peer on loopback. It listens on UDP and TCP 127.0.0.1, on the
// same port.
type Endpoint struct {
	// Incoming receives each call the endpoint answered.
	Incoming chan *Call

	stack
	conn net.PacketConn
	ln   net.Listener
	user string
	log  *slog.Logger

	mu    sync.Mutex
	calls []*Call
}

// Call is one call of the endpoint.
type Call struct {
	Peer *Peer
	// Ended is closed when the other side sent BYE (or our BYE completed).
	Ended chan struct{}

	endOnce sync.Once
	bye     func(ctx context.Context) error
}

func (c *Call) end() { c.endOnce.Do(func() { close(c.Ended) }) }

// Hangup sends BYE.
func (c *Call) Hangup(ctx context.Context) error {
	defer c.end()
	return c.bye(ctx)
}

// NewEndpoint starts an endpoint whose AOR user is user. log may be nil.
func NewEndpoint(user string, log *slog.Logger) (*Endpoint, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, ln, err := listenBoth()
	if err != nil {
		return nil, err
	}
	e := &Endpoint{Incoming: make(chan *Call, 8), conn: conn, ln: ln, user: user, log: log}
	if err := e.setup(); err != nil {
		_ = conn.Close()
		_ = ln.Close()
		return nil, err
	}
	go func() { _ = e.srv.ServeUDP(conn) }()
	go func() { _ = e.srv.ServeTCP(ln) }()
	if err := sippool.WaitPooled(context.Background(), e.ua, e.Addr()); err != nil {
		_ = e.Close()
		return nil, err
	}
	return e, nil
}

// listenBoth binds UDP and TCP on the same free loopback port.
func listenBoth() (net.PacketConn, net.Listener, error) {
	for i := 0; i < 20; i++ {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("siptest: listen: %w", err)
		}
		ln, err := net.Listen("tcp4", conn.LocalAddr().String())
		if err == nil {
			return conn, ln, nil
		}
		_ = conn.Close()
	}
	return nil, nil, errors.New("siptest: no free port for UDP and TCP")
}

func (e *Endpoint) setup() error {
	if err := e.stack.setup("siptest", e.user, e.Addr(), e.port(), e.log); err != nil {
		return err
	}
	e.srv.OnInvite(e.onInvite)
	e.srv.OnBye(e.onBye)
	return nil
}

// Addr is the endpoint's SIP address ("127.0.0.1:port", UDP).
func (e *Endpoint) Addr() string { return e.conn.LocalAddr().String() }

func (e *Endpoint) port() int {
	_, p, _ := net.SplitHostPort(e.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// URI is the endpoint's own SIP URI.
func (e *Endpoint) URI() string { return "sip:" + e.user + "@" + e.Addr() }

// Close ends every call and stops the endpoint.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	calls := e.calls
	e.mu.Unlock()
	for _, c := range calls {
		_ = c.Peer.Close()
	}
	_ = e.conn.Close()
	_ = e.ln.Close()
	return e.ua.Close()
}

func (e *Endpoint) track(c *Call) {
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.mu.Unlock()
}

// onInvite answers with a complete SDP: the offer must be complete too
// (vanilla ICE), as Asterisk's webrtc=yes expects from a gateway.
func (e *Endpoint) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	sess, err := e.srvDlg.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	peer, err := NewPeer()
	if err != nil {
		_ = sess.Respond(500, "Server Internal Error", nil)
		return
	}
	c := &Call{Peer: peer, Ended: make(chan struct{}), bye: sess.Bye}
	e.track(c)
	_ = sess.Respond(180, "Ringing", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer, err := peer.Answer(ctx, string(req.Body()), true)
	if err != nil {
		e.log.Error("siptest: cannot answer", "err", err)
		_ = sess.Respond(488, "Not Acceptable Here", nil)
		return
	}
	if err := sess.RespondSDP([]byte(answer)); err != nil {
		e.log.Error("siptest: 200 not acknowledged", "err", err)
		return
	}
	e.Incoming <- c
	go func() {
		<-sess.Context().Done()
		_ = sess.Close()
		c.end()
	}()
}

func (e *Endpoint) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := e.srvDlg.ReadBye(req, tx); err == nil {
		return
	}
	if err := e.cliDlg.ReadBye(req, tx); err == nil {
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

// Dial calls target (a SIP URI) with a complete offer and waits for the
// answer; the call's media starts once both sides' ICE connects.
func (e *Endpoint) Dial(ctx context.Context, target string) (*Call, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("siptest: target: %w", err)
	}
	peer, err := NewPeer()
	if err != nil {
		return nil, err
	}
	offer, err := peer.Offer(ctx, true)
	if err != nil {
		_ = peer.Close()
		return nil, err
	}
	c, err := e.invite(ctx, uri, peer, offer)
	if err != nil {
		_ = peer.Close()
		return nil, err
	}
	e.track(c)
	return c, nil
}

func (e *Endpoint) invite(ctx context.Context, uri sip.Uri, peer *Peer, offer string) (*Call, error) {
	sess, err := e.cliDlg.Invite(ctx, uri, []byte(offer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, fmt.Errorf("siptest: INVITE: %w", err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, fmt.Errorf("siptest: call refused: %d %s", dr.Res.StatusCode, dr.Res.Reason)
		}
		return nil, fmt.Errorf("siptest: no answer: %w", err)
	}
	if err := sess.Ack(ctx); err != nil {
		return nil, fmt.Errorf("siptest: ACK: %w", err)
	}
	if err := peer.SetAnswer(string(sess.InviteResponse.Body())); err != nil {
		return nil, err
	}
	c := &Call{Peer: peer, Ended: make(chan struct{}), bye: sess.Bye}
	go func() {
		<-sess.Context().Done()
		c.end()
	}()
	return c, nil
}
