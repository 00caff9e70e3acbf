package xmpp

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sigbridge/sigbridge/gateway"
)

// fakeServer is a component port that accepts any secret and lets a test
// write raw bytes to the adapter, the way a buggy or hostile server could
// (Prosody itself never forwards a DOCTYPE: it kills the sender's stream).
type fakeServer struct {
	t       *testing.T
	ln      net.Listener
	conn    net.Conn
	dec     *xml.Decoder
	replies chan reply
	accepts chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
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
	To      string
	ErrCond string
	ErrApp  string
}

func newFakeServer(t *testing.T) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, replies: make(chan reply, 64), accepts: make(chan struct{}, 4)}
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
		var w struct {
			Type  string `xml:"type,attr"`
			ID    string `xml:"id,attr"`
			To    string `xml:"to,attr"`
			Error *struct {
				Conds []struct{ XMLName xml.Name } `xml:",any"`
			} `xml:"error"`
		}
		if err := s.dec.DecodeElement(&w, &st); err != nil {
			return
		}
		r := reply{Name: st.Name.Local, Type: w.Type, ID: w.ID, To: w.To}
		if w.Error != nil {
			for _, c := range w.Error.Conds {
				if c.XMLName.Space == nsStanzas && r.ErrCond == "" && c.XMLName.Local != "text" {
					r.ErrCond = c.XMLName.Local
				} else if c.XMLName.Space != nsStanzas && r.ErrApp == "" {
					r.ErrApp = c.XMLName.Local
				}
			}
		}
		s.replies <- r
	}
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

// expect waits for the reply with id.
func (s *fakeServer) expect(id string) reply {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case r := <-s.replies:
			if r.ID == id {
				return r
			}
		case <-timeout:
			s.t.Fatalf("no reply to %s", id)
		}
	}
}

// startFakeAdapter runs an adapter against a fake server.
func startFakeAdapter(t *testing.T) (*fakeServer, *Adapter) {
	s := newFakeServer(t)
	router := gateway.NewRouter()
	gw := gateway.New(gateway.Config{}, router, testLogger(t), nil)
	a, err := New(Config{Component: ComponentConfig{Addr: s.ln.Addr().String(), Domain: "gw.test", Secret: "x"},
		MaxStanzaBytes: 4096}, gw, testLogger(t), gateway.NewMetrics(prometheus.NewRegistry()))
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
