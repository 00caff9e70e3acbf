package xmpptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
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

// Client is an XMPP client for tests: it logs in to a server (no TLS, as
// on a loopback test server), acknowledges every Jingle IQ set it receives,
// and queues everything it receives as Events. Expect takes the first
// queued event that matches and leaves the others queued, so several
// goroutines (a Call and a test) can wait on one client.
type Client struct {
	JID jid.JID
	S   *xmpp.Session
	w   *xmppwrite.Writer // every write but SendRaw's (see package xmppwrite)

	mu      sync.Mutex
	queue   []Event
	changed chan struct{}
	closed  bool
	results map[string]chan Event
	served  chan struct{}

	opts       LoginOptions
	discoAsked int
}

// Event is one received stanza, decoded.
type Event struct {
	Name    string // iq, message, presence
	Type    string
	ID      string
	From    jid.JID
	To      jid.JID
	Jingle  *jingle.Jingle // a Jingle IQ payload
	JMI     *JMI           // a JMI element of a message
	ErrCond string         // stanza error condition
	ErrApp  string         // application error condition (unknown-session, ...)
	Disco   []string       // disco#info features of a result

	discoGet bool // a disco#info query (get)
}

// JMI is a received XEP-0353 element.
type JMI struct {
	Name   string
	ID     string
	Media  []string
	Reason string
	// ReasonNS is the namespace of the reason's condition element as
	// received (XEP-0353: urn:xmpp:jingle:1), "" if there is none.
	ReasonNS string
}

// Login connects to addr and authenticates as user@domain (SCRAM or PLAIN
// without TLS: test servers only) with a random resource.
func Login(ctx context.Context, addr, bareJID, password string) (*Client, error) {
	return LoginWith(ctx, addr, bareJID, password, LoginOptions{})
}

// LoginWith is Login with options: a resource, and device features (caps
// in presence, disco#info answers, approved subscriptions).
func LoginWith(ctx context.Context, addr, bareJID, password string, opts LoginOptions) (*Client, error) {
	origin, err := jid.Parse(bareJID)
	if err != nil {
		return nil, err
	}
	res := opts.Resource
	if res == "" {
		res = "t" + randomID()[:8]
	}
	if origin, err = origin.WithResource(res); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	features := []xmpp.StreamFeature{xmpp.SASL("", password, sasl.ScramSha1, sasl.Plain), xmpp.BindResource()}
	s, err := xmppwrite.Negotiate(ctx, conn, func(ctx context.Context) (*xmpp.Session, error) {
		return xmpp.NewSession(ctx, origin.Domain(), origin, conn, xmpp.Secure,
			xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
				return xmpp.StreamConfig{Features: features}
			}))
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("xmpptest: login %s: %w", bareJID, err)
	}
	c := &Client{JID: s.LocalAddr(), S: s, w: xmppwrite.New(s, conn, sendTimeout), changed: make(chan struct{}), results: map[string]chan Event{},
		served: make(chan struct{}), opts: opts}
	go c.serve()
	if opts.ApproveSubscriptions {
		// Fetching the roster makes the session "interested" (RFC 6121
		// §2.1.6): subscription requests and answers reach it.
		roster := struct {
			XMLName xml.Name `xml:"jabber:iq:roster query"`
		}{}
		if _, err := c.SendIQ(ctx, jid.JID{}, stanza.GetIQ, roster); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.w.Send(ctx, c.presence(jid.JID{})); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sendTimeout bounds one write of a test client.
const sendTimeout = 10 * time.Second

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

func (c *Client) serve() {
	defer close(c.served)
	_ = c.S.Serve(xmpp.HandlerFunc(c.handle))
	c.mu.Lock()
	c.closed = true
	c.signalLocked()
	c.mu.Unlock()
}

// Close ends the stream and the connection.
func (c *Client) Close() {
	_ = c.S.Close()
	_ = c.S.Conn().Close()
	<-c.served
}

// Kill drops the TCP connection without closing the stream, the way a
// client vanishes (a crash, a lost network): the server sees the
// connection drop, not a closing stream tag. Close may still be called.
func (c *Client) Kill() {
	_ = c.S.Conn().Close()
	<-c.served
}

// wire is the decoding shape of a received stanza.
type wire struct {
	XMLName xml.Name
	ID      string         `xml:"id,attr"`
	Type    string         `xml:"type,attr"`
	From    string         `xml:"from,attr"`
	To      string         `xml:"to,attr"`
	Jingle  *jingle.Jingle `xml:"urn:xmpp:jingle:1 jingle"`
	Error   *struct {
		Conds []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
	Disco *struct {
		Node     string `xml:"node,attr"`
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
	} `xml:"http://jabber.org/protocol/disco#info query"`
	JMI []jmiWire `xml:",any"`
}

type jmiWire struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Descs   []struct {
		Media string `xml:"media,attr"`
	} `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
	Reason *reasonWire `xml:"urn:xmpp:jingle:1 reason"`
}

// reasonWire keeps the names of a reason's children with their namespaces.
type reasonWire struct {
	Children []struct{ XMLName xml.Name } `xml:",any"`
}

// condition returns the first child that is not <text/> and its namespace.
func (r *reasonWire) condition() (name, space string) {
	for _, c := range r.Children {
		if c.XMLName.Local != "text" {
			return c.XMLName.Local, c.XMLName.Space
		}
	}
	return "", ""
}

func (c *Client) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var w wire
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&w); err != nil {
		return nil
	}
	ev := w.event()
	node := ""
	if w.Disco != nil {
		node = w.Disco.Node
	}
	if done, err := c.answerDevice(t, ev, node); done || err != nil {
		return err
	}
	if ev.Name == "iq" && ev.Type == "set" && ev.Jingle != nil {
		iq := stanza.IQ{ID: ev.ID, From: ev.From, To: ev.To, Type: stanza.SetIQ}
		if _, err := xmlstream.Copy(t, iq.Result(nil)); err != nil {
			return err
		}
	}
	c.deliver(ev)
	return nil
}

func (w *wire) event() Event {
	ev := Event{Name: w.XMLName.Local, Type: w.Type, ID: w.ID, Jingle: w.Jingle}
	ev.From, _ = jid.Parse(w.From)
	ev.To, _ = jid.Parse(w.To)
	if w.Error != nil {
		for _, cd := range w.Error.Conds {
			if cd.XMLName.Space == "urn:ietf:params:xml:ns:xmpp-stanzas" && cd.XMLName.Local != "text" && ev.ErrCond == "" {
				ev.ErrCond = cd.XMLName.Local
			} else if cd.XMLName.Space != "urn:ietf:params:xml:ns:xmpp-stanzas" && ev.ErrApp == "" {
				ev.ErrApp = cd.XMLName.Local
			}
		}
	}
	if w.Disco != nil {
		ev.discoGet = w.Type == "get"
		for _, f := range w.Disco.Features {
			ev.Disco = append(ev.Disco, f.Var)
		}
	}
	for _, j := range w.JMI {
		if j.XMLName.Space == jingle.NSJingleMessage {
			ev.JMI = &JMI{Name: j.XMLName.Local, ID: j.ID}
			for _, d := range j.Descs {
				ev.JMI.Media = append(ev.JMI.Media, d.Media)
			}
			if j.Reason != nil {
				ev.JMI.Reason, ev.JMI.ReasonNS = j.Reason.condition()
			}
		}
	}
	return ev
}

func (c *Client) deliver(ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Name == "iq" && (ev.Type == "result" || ev.Type == "error") {
		if ch, ok := c.results[ev.ID]; ok {
			delete(c.results, ev.ID)
			ch <- ev
			return
		}
	}
	c.queue = append(c.queue, ev)
	c.signalLocked()
}

func (c *Client) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// ErrClosed is returned by Expect when the stream ended.
var ErrClosed = errors.New("xmpptest: stream closed")

// Expect returns (and removes) the first queued event that matches,
// waiting for one until ctx is done.
func (c *Client) Expect(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		c.mu.Lock()
		for i, ev := range c.queue {
			if match(ev) {
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				c.mu.Unlock()
				return ev, nil
			}
		}
		changed, closed := c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return Event{}, ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Send writes a stanza given as tokens.
func (c *Client) Send(ctx context.Context, r xml.TokenReader) error { return c.w.Send(ctx, r) }

// SendRaw writes raw bytes on the stream (for malformed input tests).
func (c *Client) SendRaw(_ context.Context, raw string) error {
	w := c.S.TokenWriter() // holds the output lock while we write
	defer w.Close()
	_, err := io.WriteString(c.S.Conn(), raw)
	return err
}

// SendIQ sends an IQ of type typ with payload (marshalled with
// encoding/xml, nil for none) and waits for its answer.
func (c *Client) SendIQ(ctx context.Context, to jid.JID, typ stanza.IQType, payload any) (Event, error) {
	var body xml.TokenReader
	if payload != nil {
		b, err := xml.Marshal(payload)
		if err != nil {
			return Event{}, err
		}
		body = xml.NewDecoder(bytes.NewReader(b))
	}
	id := randomID()
	return c.sendAndWait(ctx, id, stanza.IQ{ID: id, To: to, Type: typ}.Wrap(body))
}

// SendRawIQ writes raw XML that must be one IQ with the given id and waits
// for its answer.
func (c *Client) SendRawIQ(ctx context.Context, id, raw string) (Event, error) {
	ch := c.await(id)
	if err := c.SendRaw(ctx, raw); err != nil {
		return Event{}, err
	}
	return c.wait(ctx, id, ch)
}

func (c *Client) sendAndWait(ctx context.Context, id string, r xml.TokenReader) (Event, error) {
	ch := c.await(id)
	if err := c.w.Send(ctx, r); err != nil {
		return Event{}, err
	}
	return c.wait(ctx, id, ch)
}

func (c *Client) await(id string) chan Event {
	ch := make(chan Event, 1)
	c.mu.Lock()
	c.results[id] = ch
	c.mu.Unlock()
	return ch
}

func (c *Client) wait(ctx context.Context, id string, ch chan Event) (Event, error) {
	select {
	case ev := <-ch:
		return ev, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.results, id)
		c.mu.Unlock()
		return Event{}, fmt.Errorf("xmpptest: no answer to IQ %s: %w", id, ctx.Err())
	}
}

// SendJingle sends a Jingle IQ set and waits for its answer; an error
// answer is returned as *IQError.
func (c *Client) SendJingle(ctx context.Context, to jid.JID, j *jingle.Jingle) error {
	ev, err := c.SendIQ(ctx, to, stanza.SetIQ, j)
	if err != nil {
		return err
	}
	if ev.Type == "error" {
		return &IQError{Cond: ev.ErrCond, App: ev.ErrApp}
	}
	return nil
}

// IQError is an error answer to one of our IQs.
type IQError struct{ Cond, App string }

func (e *IQError) Error() string { return "xmpptest: IQ error " + e.Cond + " " + e.App }

// DiscoInfo queries disco#info of to and returns the features.
func (c *Client) DiscoInfo(ctx context.Context, to jid.JID) ([]string, error) {
	q := struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
	}{}
	ev, err := c.SendIQ(ctx, to, stanza.GetIQ, q)
	if err != nil {
		return nil, err
	}
	if ev.Type != "result" {
		return nil, &IQError{Cond: ev.ErrCond, App: ev.ErrApp}
	}
	return ev.Disco, nil
}
