package siptest

import (
	"log/slog"

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
