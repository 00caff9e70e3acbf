package siptest

import (
	"errors"
	"log/slog"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// stack is the sipgo side every test UA of this package has: a user agent,
// a server and a client bound to one loopback address, and the dialog
// caches for both directions. The UAs add their own handlers.
type stack struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	srvDlg *sipgo.DialogServerCache
	cliDlg *sipgo.DialogClientCache
}

// setup builds the stack for user at addr (127.0.0.1:port), with the
// OPTIONS and ACK handlers every UA answers the same way.
func (s *stack) setup(agent, user, addr string, port int, log *slog.Logger) error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(agent), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)))
	if err != nil {
		return err
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		return err
	}
	if s.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(log),
		sipgo.WithClientConnectionAddr(addr)); err != nil {
		return err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: port}}
	s.srvDlg = sipgo.NewDialogServerCache(s.cli, contact)
	s.cliDlg = sipgo.NewDialogClientCache(s.cli, contact)
	s.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = s.srvDlg.ReadAck(req, tx) })
	s.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return nil
}

// waitPooled waits until sipgo has the UDP socket the server serves at addr
// in its connection pool: the UA's requests must leave from it, and a
// client request made before (the serving goroutine can start late on a
// loaded box) would bind the port a second time and fail with "address
// already in use". Bounded by 10 s.
func (s *stack) waitPooled(addr string) error {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, err := s.ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("siptest: the UA's socket never reached sipgo's pool")
		}
	}
}
