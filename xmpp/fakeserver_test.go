package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// fakeServer is a component port that accepts any secret and lets a test
// write raw bytes to the adapter, the way a buggy or hostile server could
// (Prosody itself never forwards a DOCTYPE: it kills the sender's stream).
type fakeServer struct {
	t       *testing.T
	ln      net.Listener
	conn    net.Conn
	dec     *xml.Decoder
	accepts chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
	seen    []reply            // every stanza the adapter wrote, in order
	taken   map[int]bool       // indexes in seen that expect returned
	changed chan struct{}      // closed and replaced when seen grows
	answer  func(reply) string // if set: the raw answer to an IQ get/set of the adapter ("" for none)
}

func (s *fakeServer) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// reply is one stanza the adapter wrote.
type reply struct {
	Name    string
	Type    string
	ID      string
	From    string
	To      string
	ErrCond string
	ErrApp  string
	Action  string // the Jingle action of an IQ
	Info    string // the session-info payload, "" for none (a ping)
	Reason  string // the condition of a Jingle <reason>
}

func newFakeServer(t *testing.T) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, taken: map[int]bool{}, accepts: make(chan struct{}, 4),
		changed: make(chan struct{})}
	t.Cleanup(s.close)
	go s.accept()
	return s
}

func (s *fakeServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.conn = c
		s.mu.Unlock()
		if s.handshake(c) {
			s.accepts <- struct{}{}
			s.read()
		}
	}
}

// handshake reads the adapter's stream header and handshake and accepts.
func (s *fakeServer) handshake(c net.Conn) bool {
	s.dec = xml.NewDecoder(c)
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return false
		}
		if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "stream" {
			break
		}
	}
	_, _ = io.WriteString(c, `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' `+
		`xmlns:stream='http://etherx.jabber.org/streams' id='abc123' from='gw.test'>`)
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return false
		}
		if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "handshake" {
			_ = s.dec.Skip()
			break
		}
	}
	_, err := io.WriteString(c, `<handshake/>`)
	return err == nil
}

func (s *fakeServer) read() {
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return
		}
		st, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var w wireOut
		if err := s.dec.DecodeElement(&w, &st); err != nil {
			return
		}
		r := w.reply(st.Name.Local)
		s.record(r)
		if raw := s.answerFor(r); raw != "" {
			s.mu.Lock()
			c := s.conn
			s.mu.Unlock()
			_, _ = io.WriteString(c, raw)
		}
	}
}

// wireOut is the decoding shape of a stanza the adapter wrote.
type wireOut struct {
	Type   string         `xml:"type,attr"`
	ID     string         `xml:"id,attr"`
	From   string         `xml:"from,attr"`
	To     string         `xml:"to,attr"`
	Jingle *jingle.Jingle `xml:"urn:xmpp:jingle:1 jingle"`
	Error  *struct {
		Conds []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

func (w *wireOut) reply(name string) reply {
	r := reply{Name: name, Type: w.Type, ID: w.ID, From: w.From, To: w.To}
	if w.Error != nil {
		for _, c := range w.Error.Conds {
			if c.XMLName.Space == nsStanzas && r.ErrCond == "" && c.XMLName.Local != "text" {
				r.ErrCond = c.XMLName.Local
			} else if c.XMLName.Space != nsStanzas && r.ErrApp == "" {
				r.ErrApp = c.XMLName.Local
			}
		}
	}
	if j := w.Jingle; j != nil {
		r.Action = string(j.Action)
		if j.Info != nil {
			r.Info = j.Info.Kind()
		}
		if j.Reason != nil {
			r.Reason = j.Reason.Condition
		}
	}
	return r
}

// record keeps r in the log.
func (s *fakeServer) record(r reply) {
	s.mu.Lock()
	s.seen = append(s.seen, r)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// answerFor returns the raw answer to an IQ get/set of the adapter, if the
// test set an answerer.
func (s *fakeServer) answerFor(r reply) string {
	s.mu.Lock()
	answer := s.answer
	s.mu.Unlock()
	if answer == nil || r.Name != "iq" || (r.Type != "set" && r.Type != "get") {
		return ""
	}
	return answer(r)
}

// setAnswer makes the server answer the adapter's IQs with f.
func (s *fakeServer) setAnswer(f func(reply) string) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

// count returns how many stanzas the adapter wrote that match.
func (s *fakeServer) count(match func(reply) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.seen {
		if match(r) {
			n++
		}
	}
	return n
}

// waitCount waits until the adapter wrote at least n stanzas that match.
func (s *fakeServer) waitCount(match func(reply) bool, n int) {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if s.count(match) >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			s.t.Fatalf("the adapter wrote %d matching stanzas, want %d", s.count(match), n)
		}
	}
}

// resultTo is the empty result to an IQ of the adapter.
func resultTo(r reply) string {
	return fmt.Sprintf(`<iq type='result' id='%s' from='%s' to='%s'/>`, r.ID, r.To, r.From)
}

// errorTo is an error answer to an IQ of the adapter, with an RFC 6120
// condition and optionally a Jingle error condition.
func errorTo(r reply, cond, app string) string {
	appEl := ""
	if app != "" {
		appEl = "<" + app + " xmlns='" + jingle.NSJingleErrors + "'/>"
	}
	return fmt.Sprintf(`<iq type='error' id='%s' from='%s' to='%s'><error type='cancel'><%s xmlns='%s'/>%s</error></iq>`,
		r.ID, r.To, r.From, cond, nsStanzas, appEl)
}

func (s *fakeServer) write(raw string) {
	s.t.Helper()
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if _, err := io.WriteString(c, raw); err != nil {
		s.t.Fatal(err)
	}
}

// expect waits for the first reply with id that it did not return yet.
func (s *fakeServer) expect(id string) reply {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		for i, r := range s.seen {
			if r.ID == id && !s.taken[i] {
				s.taken[i] = true
				s.mu.Unlock()
				return r
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			s.t.Fatalf("no reply to %s", id)
		}
	}
}

// startFakeAdapter runs an adapter against a fake server.
func startFakeAdapter(t *testing.T) (*fakeServer, *Adapter) {
	return startFakeAdapterWith(t, gateway.NewRouter(), nil)
}

// startFakeAdapterWith runs an adapter with router and a configuration
// that mod may change against a fake server.
func startFakeAdapterWith(t *testing.T, router *gateway.Router, mod func(*Config)) (*fakeServer, *Adapter) {
	s := newFakeServer(t)
	gw := gateway.New(gateway.Config{}, router, testLogger(t), nil)
	cfg := Config{Component: ComponentConfig{Addr: s.ln.Addr().String(), Domain: "gw.test", Secret: "x"},
		MaxStanzaBytes: 4096}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg, gw, testLogger(t), gateway.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-s.accepts:
	case <-time.After(5 * time.Second):
		t.Fatal("adapter did not connect to the fake server")
	}
	return s, a
}
