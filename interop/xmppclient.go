package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/internal/xmppwrite"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// xmppClient is the harness's XMPP client (mellium): it logs in as an
// account, acknowledges every Jingle IQ set at once (as XEP-0166 asks and
// Conversations does), answers other IQ requests with
// service-unavailable, matches answers to its own IQs, and hands every
// other stanza, in order, to its owner on in. Every stanza in and out is
// summarised into the transcript.
type xmppClient struct {
	s     *xmpp.Session
	w     *xmppwrite.Writer // every write (see package xmppwrite)
	jid   jid.JID           // our full JID
	tr    *Transcript
	party string
	in    chan xmppStanza

	mu      sync.Mutex
	results map[string]chan xmppStanza
	closing bool
	served  chan struct{}
	online  chan struct{} // closed when the server reflected our presence
	onOnce  sync.Once
}

// xmppStanza is one received stanza, decoded.
type xmppStanza struct {
	Name, Type, ID string
	From, To       jid.JID
	Jingle         *jingle.Jingle
	JMI            *jmiElement
	ErrCond        string // stanza error condition
	ErrApp         string // application condition (unknown-session ...)
}

// jmiElement is a XEP-0353 element of a message.
type jmiElement struct {
	Name   string // propose, proceed, reject, retract, ringing, finish
	ID     string
	Media  []string
	Reason string
}

// xmppWire is the decoding shape of a received stanza.
type xmppWire struct {
	XMLName xml.Name
	ID      string         `xml:"id,attr"`
	Type    string         `xml:"type,attr"`
	From    string         `xml:"from,attr"`
	To      string         `xml:"to,attr"`
	Jingle  *jingle.Jingle `xml:"urn:xmpp:jingle:1 jingle"`
	Error   *struct {
		Conds []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
	Any []struct {
		XMLName xml.Name
		ID      string `xml:"id,attr"`
		Descs   []struct {
			Media string `xml:"media,attr"`
		} `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
		Reason *jingle.Reason `xml:"urn:xmpp:jingle:1 reason"`
	} `xml:",any"`
}

// xmppLogin connects to server (host:port; default: the JID's domain,
// port 5222) and authenticates as the account with a random resource.
// A loopback server is used without TLS (the harness's own Prosody); any
// other server must offer STARTTLS.
func xmppLogin(ctx context.Context, server string, acc XMPPAccount, tr *Transcript, party string) (*xmppClient, error) {
	bare, err := jid.Parse(acc.JID)
	if err != nil {
		return nil, fmt.Errorf("interop: JID %q: %w", acc.JID, err)
	}
	origin, err := bare.WithResource("interop-" + newToken()[:8])
	if err != nil {
		return nil, err
	}
	if server == "" {
		server = net.JoinHostPort(bare.Domainpart(), "5222")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("interop: xmpp server %s: %w", server, err)
	}
	host, _, _ := net.SplitHostPort(server)
	features := []xmpp.StreamFeature{xmpp.SASL("", acc.Password, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain),
		xmpp.BindResource()}
	var state xmpp.SessionState
	if isLoopbackHost(host) {
		state = xmpp.Secure // loopback test server without TLS
	} else {
		features = append([]xmpp.StreamFeature{xmpp.StartTLS(&tls.Config{ServerName: bare.Domainpart(),
			MinVersion: tls.VersionTLS12})}, features...)
	}
	s, err := xmppwrite.Negotiate(ctx, conn, func(ctx context.Context) (*xmpp.Session, error) {
		return xmpp.NewSession(ctx, bare.Domain(), origin, conn, state,
			xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
				return xmpp.StreamConfig{Features: features}
			}))
	})
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("interop: xmpp login %s: %w", acc.JID, err)
	}
	c := &xmppClient{s: s, w: xmppwrite.New(s, conn, sendTimeout), jid: s.LocalAddr(), tr: tr, party: party, in: make(chan xmppStanza, 256),
		results: map[string]chan xmppStanza{}, served: make(chan struct{}), online: make(chan struct{})}
	go c.serve()
	if err := c.send(ctx, stanza.Presence{}.Wrap(nil), "presence (available)"); err != nil {
		c.close()
		return nil, err
	}
	// Messages to the bare JID (a JMI propose) reach this resource only
	// once the server has processed its available presence, which it
	// reflects to the resource itself (RFC 6121 §4.2.2).
	select {
	case <-c.online:
		return c, nil
	case <-c.served:
		return nil, fmt.Errorf("interop: xmpp login %s: the stream ended before our presence was accepted", acc.JID)
	case <-ctx.Done():
		c.close()
		return nil, fmt.Errorf("interop: xmpp login %s: our presence was never reflected: %w", acc.JID, ctx.Err())
	}
}

func (c *xmppClient) serve() {
	defer close(c.served)
	err := c.s.Serve(xmpp.HandlerFunc(c.handle))
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if !closing {
		c.tr.Add(c.party, "recv", fmt.Sprintf("xmpp stream ended: %v", err))
	}
	close(c.in)
}

func (c *xmppClient) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var w xmppWire
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&w); err != nil {
		c.tr.Add(c.party, "recv", "undecodable "+start.Name.Local+": "+err.Error())
		return nil
	}
	st := w.stanza()
	if st.Name == "presence" {
		if st.From.Equal(c.jid) && st.Type == "" {
			c.onOnce.Do(func() { close(c.online) })
		}
		return nil // other presences: noise
	}
	c.tr.Add(c.party, "recv", summarize(st))
	if st.Name == "iq" && (st.Type == "set" || st.Type == "get") {
		iq := stanza.IQ{ID: st.ID, From: st.From, To: st.To, Type: stanza.IQType(st.Type)}
		reply, what := iq.Result(nil), "iq result id="+st.ID
		if st.Jingle == nil || st.Type != "set" {
			reply = iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
			what = "iq error service-unavailable id=" + st.ID
		}
		if _, err := xmlstream.Copy(t, reply); err != nil {
			return err
		}
		c.tr.Add(c.party, "sent", what)
		if st.Jingle == nil {
			return nil
		}
	}
	if st.Name == "iq" && (st.Type == "result" || st.Type == "error") {
		c.mu.Lock()
		ch, ok := c.results[st.ID]
		delete(c.results, st.ID)
		c.mu.Unlock()
		if ok {
			ch <- st
			return nil
		}
	}
	select {
	case c.in <- st:
	default:
		c.tr.Add(c.party, "recv", "(harness queue full: stanza dropped)")
	}
	return nil
}

func (w *xmppWire) stanza() xmppStanza {
	st := xmppStanza{Name: w.XMLName.Local, Type: w.Type, ID: w.ID, Jingle: w.Jingle}
	st.From, _ = jid.Parse(w.From)
	st.To, _ = jid.Parse(w.To)
	if w.Error != nil {
		for _, cd := range w.Error.Conds {
			switch {
			case cd.XMLName.Space == "urn:ietf:params:xml:ns:xmpp-stanzas" && cd.XMLName.Local != "text":
				if st.ErrCond == "" {
					st.ErrCond = cd.XMLName.Local
				}
			case cd.XMLName.Space != "urn:ietf:params:xml:ns:xmpp-stanzas" && st.ErrApp == "":
				st.ErrApp = cd.XMLName.Local
			}
		}
	}
	for _, el := range w.Any {
		if el.XMLName.Space != jingle.NSJingleMessage {
			continue
		}
		st.JMI = &jmiElement{Name: el.XMLName.Local, ID: el.ID}
		for _, d := range el.Descs {
			st.JMI.Media = append(st.JMI.Media, d.Media)
		}
		if el.Reason != nil {
			st.JMI.Reason = el.Reason.Condition
		}
	}
	return st
}

// summarize is a one-line account of a stanza for the transcript.
func summarize(st xmppStanza) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", st.Name, st.Type)
	switch {
	case st.Jingle != nil:
		b.WriteString(" " + jingleSummary(st.Jingle))
	case st.JMI != nil:
		fmt.Fprintf(&b, " jmi %s id=%s", st.JMI.Name, st.JMI.ID)
		if len(st.JMI.Media) > 0 {
			b.WriteString(" media=" + strings.Join(st.JMI.Media, ","))
		}
		if st.JMI.Reason != "" {
			b.WriteString(" reason=" + st.JMI.Reason)
		}
	case st.Type == "result" || st.Type == "error":
		b.WriteString(" id=" + st.ID)
	}
	if st.ErrCond != "" {
		b.WriteString(" error=" + st.ErrCond)
		if st.ErrApp != "" {
			b.WriteString("+" + st.ErrApp)
		}
	}
	if !st.From.Equal(jid.JID{}) {
		b.WriteString(" from=" + st.From.String())
	}
	return b.String()
}

func jingleSummary(j *jingle.Jingle) string {
	parts := []string{"jingle " + string(j.Action), "sid=" + j.SID}
	cands := 0
	for _, c := range j.Contents {
		desc := c.Name
		if c.Description != nil {
			desc += "/" + c.Description.Media
		}
		if c.Senders != "" {
			desc += " senders=" + string(c.Senders)
		}
		if c.Transport != nil {
			cands += len(c.Transport.Candidates)
		}
		parts = append(parts, "["+desc+"]")
	}
	if cands > 0 {
		parts = append(parts, fmt.Sprintf("%d candidates", cands))
	}
	if j.Info != nil {
		parts = append(parts, "info="+j.Info.Kind())
	}
	if j.Reason != nil {
		parts = append(parts, "reason="+j.Reason.Condition)
	}
	return strings.Join(parts, " ")
}

// send writes a stanza and notes it in the transcript.
func (c *xmppClient) send(ctx context.Context, r xml.TokenReader, what string) error {
	if err := c.w.Send(ctx, r); err != nil {
		return fmt.Errorf("interop: xmpp send %s: %w", what, err)
	}
	c.tr.Add(c.party, "sent", what)
	return nil
}

// jingleIQ sends a Jingle IQ set to `to`. With wait it returns once the
// answer came: an error answer is an *iqError.
func (c *xmppClient) jingleIQ(ctx context.Context, to jid.JID, j *jingle.Jingle, wait bool) error {
	b, err := xml.Marshal(j)
	if err != nil {
		return fmt.Errorf("interop: marshal jingle: %w", err)
	}
	id := newToken()
	var ch chan xmppStanza
	if wait {
		ch = make(chan xmppStanza, 1)
		c.mu.Lock()
		c.results[id] = ch
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			delete(c.results, id)
			c.mu.Unlock()
		}()
	}
	iq := stanza.IQ{ID: id, To: to, Type: stanza.SetIQ}
	what := "iq set " + jingleSummary(j) + " to=" + to.String()
	if err := c.send(ctx, iq.Wrap(xml.NewDecoder(bytes.NewReader(b))), what); err != nil || !wait {
		return err
	}
	select {
	case st := <-ch:
		if st.Type == "error" {
			return &iqError{cond: st.ErrCond, app: st.ErrApp}
		}
		return nil
	case <-c.served:
		return errors.New("interop: xmpp stream closed before the answer")
	case <-ctx.Done():
		return fmt.Errorf("interop: no answer to our %s: %w", j.Action, ctx.Err())
	}
}

// iqError is an error answer to one of our IQs.
type iqError struct{ cond, app string }

func (e *iqError) Error() string { return "IQ error " + e.cond + " " + e.app }

// jmi sends a XEP-0353 element in a chat message with a store hint.
// reason is a Jingle condition (reject, retract, finish); media lists the
// descriptions of a propose.
func (c *xmppClient) jmi(ctx context.Context, to jid.JID, name, id, reason string, media ...string) error {
	type desc struct {
		XMLName xml.Name `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
		Media   string   `xml:"media,attr"`
	}
	el := struct {
		XMLName xml.Name
		ID      string         `xml:"id,attr"`
		Descs   []desc         `xml:"description"`
		Reason  *jingle.Reason `xml:"urn:xmpp:jingle:1 reason,omitempty"`
	}{XMLName: xml.Name{Space: jingle.NSJingleMessage, Local: name}, ID: id}
	for _, m := range media {
		el.Descs = append(el.Descs, desc{Media: m})
	}
	if reason != "" {
		el.Reason = jingle.NewReason(reason, "")
	}
	b, err := xml.Marshal(el)
	if err != nil {
		return fmt.Errorf("interop: marshal jmi: %w", err)
	}
	msg := stanza.Message{ID: newToken(), To: to, Type: stanza.ChatMessage}
	what := fmt.Sprintf("message chat jmi %s id=%s", name, id)
	if reason != "" {
		what += " reason=" + reason
	}
	if len(media) > 0 {
		what += " media=" + strings.Join(media, ",")
	}
	return c.send(ctx, msg.Wrap(xmlstream.MultiReader(xml.NewDecoder(bytes.NewReader(b)),
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:xmpp:hints", Local: "store"}}))),
		what+" to="+to.String())
}

// close ends the stream politely (</stream:stream>) and the connection.
func (c *xmppClient) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { _ = c.s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	_ = c.s.Conn().Close()
	<-c.served
}

// kill drops the TCP connection without closing the stream.
func (c *xmppClient) kill() {
	c.tr.Add(c.party, "sent", "<xmpp connection dropped without closing the stream>")
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	_ = c.s.Conn().Close()
}
