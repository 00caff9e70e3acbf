package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsMessage is one JSON message of the browser dialect.
type wsMessage map[string]any

func (m wsMessage) str(key string) string {
	s, _ := m[key].(string)
	return s
}

func (m wsMessage) num(key string) int {
	f, _ := m[key].(float64)
	return int(f)
}

func (m wsMessage) obj(key string) wsMessage {
	o, _ := m[key].(map[string]any)
	return o
}

func (m wsMessage) strings(key string) []string {
	arr, _ := m[key].([]any)
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// wsClient is a browser-dialect client: one WebSocket with the "json"
// subprotocol. Every message in and out goes to the transcript. Received
// messages are delivered in order on In(); the channel closes when the
// connection does.
type wsClient struct {
	conn  *websocket.Conn
	tr    *Transcript
	party string
	in    chan wsMessage
	wmu   sync.Mutex
	name  string
	id    int

	closing atomic.Bool // we closed it: the read error is no news
}

// wsFeatures are the extensions the harness's browser client opts into.
var wsFeatures = []string{"callId", "ringing", "end-of-candidates", "reason"}

func dialWS(ctx context.Context, url, party string, tr *Transcript) (*wsClient, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"json"}}
	conn, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("interop: websocket %s: %w", url, err)
	}
	c := &wsClient{conn: conn, tr: tr, party: party, in: make(chan wsMessage, 256)}
	go c.readLoop()
	return c, nil
}

func (c *wsClient) readLoop() {
	defer close(c.in)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			if !c.closing.Load() {
				c.tr.Add(c.party, "recv", "websocket closed: "+err.Error())
			}
			return
		}
		var m wsMessage
		if json.Unmarshal(data, &m) != nil {
			m = wsMessage{"type": "<invalid json>"}
		}
		if !isNoise(m) {
			c.tr.Add(c.party, "recv", string(data))
		}
		c.in <- m
	}
}

// isNoise is what the transcript leaves out: presence of other users.
func isNoise(m wsMessage) bool { return m.str("type") == "userlist" }

// send writes one message.
func (c *wsClient) send(ctx context.Context, m wsMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("interop: marshal: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("interop: websocket write: %w", err)
	}
	c.tr.Add(c.party, "sent", string(b))
	return nil
}

// login does the MDN handshake: wait for id, send username (with the
// extension features), adopt a rejectusername name, and return once a
// userlist lists the name.
func (c *wsClient) login(ctx context.Context, want string) error {
	m, err := c.expect(ctx, func(m wsMessage) bool { return m.str("type") == "id" })
	if err != nil {
		return err
	}
	c.id = m.num("id")
	c.name = want
	if err := c.send(ctx, wsMessage{"type": "username", "name": want, "date": time.Now().UnixMilli(), "id": c.id,
		"features": wsFeatures}); err != nil {
		return err
	}
	for {
		m, err := c.expect(ctx, func(m wsMessage) bool {
			t := m.str("type")
			return t == "rejectusername" || t == "error" || (t == "userlist" && slices.Contains(m.strings("users"), c.name))
		})
		switch {
		case err != nil:
			return err
		case m.str("type") == "error":
			return fmt.Errorf("interop: login refused: %d %s", m.num("code"), m.str("text"))
		case m.str("type") == "userlist":
			return nil
		}
		c.name = m.str("name")
	}
}

var errWSClosed = errors.New("websocket closed")

// expect reads messages until one matches (used before the agent's loop
// takes over In).
func (c *wsClient) expect(ctx context.Context, match func(wsMessage) bool) (wsMessage, error) {
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return nil, fmt.Errorf("interop: %w", errWSClosed)
			}
			if match(m) {
				return m, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("interop: waiting for the gateway: %w", ctx.Err())
		}
	}
}

// kill drops the TCP connection without a close frame.
func (c *wsClient) kill() error {
	c.tr.Add(c.party, "sent", "<connection dropped without a close frame>")
	c.closing.Store(true)
	return c.conn.NetConn().Close()
}

// close sends a normal close frame and closes the socket.
func (c *wsClient) close() error {
	c.closing.Store(true)
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	c.wmu.Unlock()
	return c.conn.Close()
}
