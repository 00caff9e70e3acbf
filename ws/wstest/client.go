package wstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Message is one JSON message received from the gateway.
type Message map[string]any

// Type returns the message's type.
func (m Message) Type() string { return m.Str("type") }

// Str returns a string field ("" if absent or not a string).
func (m Message) Str(key string) string {
	s, _ := m[key].(string)
	return s
}

// Int returns a numeric field (0 if absent or not a number).
func (m Message) Int(key string) int {
	f, _ := m[key].(float64)
	return int(f)
}

// Obj returns an object field (nil if absent or not an object).
func (m Message) Obj(key string) Message {
	o, _ := m[key].(map[string]any)
	return o
}

// Has reports whether the field is present (even if null).
func (m Message) Has(key string) bool {
	_, ok := m[key]
	return ok
}

// Strings returns a field that is an array of strings.
func (m Message) Strings(key string) []string {
	arr, _ := m[key].([]any)
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Options tune Dial.
type Options struct {
	Header        http.Header // extra handshake headers, e.g. Origin
	NoSubprotocol bool        // do not ask for the "json" subprotocol
}

// Client is a browser-dialect client. Received messages queue without
// bound; Expect takes the first that matches and leaves the others queued,
// so several goroutines (a Peer and a test) can wait on one client.
type Client struct {
	Conn *websocket.Conn
	ID   int    // from the id greeting (after WaitID or Login)
	Name string // the name the gateway gave us (after Login)

	wmu      sync.Mutex
	mu       sync.Mutex
	queue    []Message
	changed  chan struct{} // closed and replaced when queue or closed changes
	closed   bool
	closeErr error
}

// Dial opens a WebSocket to url (ws://host/ws or ws://host/) with the
// "json" subprotocol. On a refused handshake it returns the HTTP response.
func Dial(ctx context.Context, url string, opts *Options) (*Client, *http.Response, error) {
	if opts == nil {
		opts = &Options{}
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if !opts.NoSubprotocol {
		d.Subprotocols = []string{"json"}
	}
	conn, resp, err := d.DialContext(ctx, url, opts.Header)
	if err != nil {
		return nil, resp, fmt.Errorf("wstest: dial %s: %w", url, err)
	}
	c := &Client{Conn: conn, changed: make(chan struct{})}
	go c.readLoop()
	return c, resp, nil
}

func (c *Client) readLoop() {
	for {
		_, data, err := c.Conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closed, c.closeErr = true, err
			c.signalLocked()
			c.mu.Unlock()
			return
		}
		var m Message
		if json.Unmarshal(data, &m) != nil {
			m = Message{"type": "<invalid json>", "raw": string(data)}
		}
		c.mu.Lock()
		c.queue = append(c.queue, m)
		c.signalLocked()
		c.mu.Unlock()
	}
}

func (c *Client) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Send writes v as one JSON text message.
func (c *Client) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wstest: marshal: %w", err)
	}
	return c.SendFrame(websocket.TextMessage, b)
}

// SendRaw writes b as one text message, unchecked.
func (c *Client) SendRaw(b []byte) error { return c.SendFrame(websocket.TextMessage, b) }

// SendFrame writes one message of the given WebSocket type.
func (c *Client) SendFrame(messageType int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.Conn.WriteMessage(messageType, b); err != nil {
		return fmt.Errorf("wstest: write: %w", err)
	}
	return nil
}

// ErrClosed is returned by Expect when the connection closed first; the
// close error (a *websocket.CloseError for a clean close) is wrapped.
var ErrClosed = errors.New("wstest: connection closed")

// Expect returns (and removes) the first queued or future message for
// which match is true.
func (c *Client) Expect(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		c.mu.Lock()
		if i := slices.IndexFunc(c.queue, match); i >= 0 {
			m := c.queue[i]
			c.queue = slices.Delete(c.queue, i, i+1)
			c.mu.Unlock()
			return m, nil
		}
		closed, err, changed := c.closed, c.closeErr, c.changed
		c.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("wstest: waiting for a message: %w", ctx.Err())
		}
	}
}

// ExpectType returns the first message of type typ.
func (c *Client) ExpectType(ctx context.Context, typ string) (Message, error) {
	return c.Expect(ctx, func(m Message) bool { return m.Type() == typ })
}

// Pending returns a copy of the queued messages without removing them.
func (c *Client) Pending() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.queue)
}

// WaitClosed waits until the gateway closes the connection and returns
// the close error (a *websocket.CloseError when a close frame came).
func (c *Client) WaitClosed(ctx context.Context) error {
	for {
		c.mu.Lock()
		closed, err, changed := c.closed, c.closeErr, c.changed
		c.mu.Unlock()
		if closed {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wstest: waiting for close: %w", ctx.Err())
		}
	}
}

// WaitID waits for the id greeting and records the client id.
func (c *Client) WaitID(ctx context.Context) (Message, error) {
	m, err := c.ExpectType(ctx, "id")
	if err != nil {
		return nil, err
	}
	c.ID = m.Int("id")
	return m, nil
}

// Login does what the MDN page does after connecting: it waits for id,
// sends username (plus extra fields, e.g. "features"), adopts the name of
// a rejectusername, and returns once a userlist (or, with the "user-events"
// feature, a user-joined) lists the name.
func (c *Client) Login(ctx context.Context, name string, extra map[string]any) (string, error) {
	if _, err := c.WaitID(ctx); err != nil {
		return "", err
	}
	msg := map[string]any{"type": "username", "name": name, "date": time.Now().UnixMilli(), "id": c.ID}
	for k, v := range extra {
		msg[k] = v
	}
	if err := c.Send(msg); err != nil {
		return "", err
	}
	c.Name = name
	for {
		m, err := c.Expect(ctx, func(m Message) bool {
			return m.Type() == "rejectusername" ||
				((m.Type() == "userlist" || m.Type() == "user-joined") && slices.Contains(m.Strings("users"), c.Name))
		})
		if err != nil {
			return "", err
		}
		if m.Type() != "rejectusername" {
			return c.Name, nil
		}
		c.Name = m.Str("name")
	}
}

// Close sends a normal close frame and closes the socket.
func (c *Client) Close() error {
	c.wmu.Lock()
	_ = c.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	c.wmu.Unlock()
	return c.Conn.Close()
}

// Kill drops the TCP connection without a close frame (a vanishing peer).
func (c *Client) Kill() error { return c.Conn.NetConn().Close() }
