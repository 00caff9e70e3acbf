package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// inMsg is the part of a server message the tool reads.
type inMsg struct {
	Type   string   `json:"type"`
	CallID string   `json:"callId"`
	Name   string   `json:"name"`
	Code   int      `json:"code"`
	Reason string   `json:"reason"`
	Text   string   `json:"text"`
	Ref    string   `json:"ref"`
	Users  []string `json:"users"`
	// At is when the read loop got the message off the connection: the
	// setup latency ends there, not when the call's goroutine got to it.
	At time.Time `json:"-"`
}

// features are the extensions the tool opts into: callId lets one
// connection carry many calls, end-of-candidates is what Chromium's
// gathering-complete becomes, user-events keeps the directory to changes
// instead of whole lists.
var features = []string{"callId", "ringing", "end-of-candidates", "user-events"}

// writeTimeout bounds one WebSocket write.
const writeTimeout = 10 * time.Second

// userConn is one logged-in user: a WebSocket, its calls by callId and the
// bookkeeping that keeps the tool within the gateway's per-user limits.
type userConn struct {
	name  string
	index int
	ws    *websocket.Conn
	wmu   sync.Mutex

	mu     sync.Mutex
	calls  map[string]chan inMsg
	active int       // calls in flight (for the per-user cap)
	tokens float64   // message budget (the gateway's token bucket)
	last   time.Time // when tokens was last refilled

	onOffer  func(u *userConn, m inMsg) // callee: an incoming call
	onError  func(m inMsg)              // an error about no call of ours
	closed   chan struct{}
	login    chan inMsg  // rejectusername, userlist or user-joined while logging in
	loggedIn atomic.Bool // user lists are skipped unread from then on
}

// dial opens the connection of user name (its token, if any, in ?token=
// as a browser sends it) and starts reading.
func dial(ctx context.Context, o Options, name, token string) (*userConn, error) {
	u, err := url.Parse(o.WS)
	if err != nil {
		return nil, fmt.Errorf("load: --ws: %w", err)
	}
	if token != "" {
		q := u.Query()
		q.Set("token", token)
		u.RawQuery = q.Encode()
	}
	h := http.Header{}
	if o.Origin != "" {
		h.Set("Origin", o.Origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"json"}}
	ws, resp, err := d.DialContext(ctx, u.String(), h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("load: %s: handshake %s: %w", name, resp.Status, err)
		}
		return nil, fmt.Errorf("load: %s: %w", name, err)
	}
	c := &userConn{name: name, ws: ws, calls: map[string]chan inMsg{}, closed: make(chan struct{}),
		login: make(chan inMsg, 4), tokens: o.MsgBurst, last: time.Now()}
	return c, nil
}

// sendUsername sends username with the tool's features; awaitLogin then
// waits until the gateway lists the user (user-joined), renames it (rejectusername: an
// error, the name is taken) or, with the directory off, 3 s pass.
func (c *userConn) sendUsername() error {
	return c.send(fmt.Appendf(nil, `{"type":"username","name":%s,"features":%s}`, mustJSON(c.name), mustJSON(features)))
}

// awaitLogin waits for the outcome of sendUsername.
func (c *userConn) awaitLogin(ctx context.Context) error {
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case m := <-c.login:
			if m.Type == "rejectusername" && m.Name != c.name {
				return fmt.Errorf("load: user %s: the gateway named it %s (name taken or refused)", c.name, m.Name)
			}
			if slices.Contains(m.Users, c.name) {
				c.loggedIn.Store(true)
				return nil
			}
		case <-t.C:
			c.loggedIn.Store(true)
			return nil // directory: none sends nothing
		case <-c.closed:
			return fmt.Errorf("load: user %s: connection closed while logging in", c.name)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// readLoop dispatches server messages until the connection closes.
func (c *userConn) readLoop() {
	defer close(c.closed)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		if c.userList(b) {
			continue
		}
		var m inMsg
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		m.At = at
		c.dispatch(m)
	}
}

// userListPrefix starts the gateway's userlist, user-joined and
// user-left messages.
var userListPrefix = []byte(`{"type":"user`)

// userList handles a user list without decoding it, and reports whether b
// was one: with the directory on, every login reaches every user, and
// 10,000 users decoding every name would load the tool more than the
// gateway. While logging in, only whether the user's own name is listed
// matters.
func (c *userConn) userList(b []byte) bool {
	if !bytes.HasPrefix(b, userListPrefix) {
		return false
	}
	if c.loggedIn.Load() || bytes.HasPrefix(b, []byte(`{"type":"user-left"`)) {
		return true
	}
	if bytes.Contains(b, mustJSON(c.name)) {
		select {
		case c.login <- inMsg{Type: "user-joined", Users: []string{c.name}}:
		default:
		}
	}
	return true
}

func (c *userConn) dispatch(m inMsg) {
	switch m.Type {
	case "rejectusername", "userlist", "user-joined":
		select {
		case c.login <- m:
		default:
		}
		return
	case "video-offer":
		if c.onOffer != nil && m.CallID != "" && c.call(m.CallID) == nil {
			c.onOffer(c, m)
			return
		}
	}
	if m.CallID != "" {
		if ch := c.call(m.CallID); ch != nil {
			select {
			case ch <- m:
			default: // a call that stopped listening
			}
			return
		}
	}
	if m.Type == "error" && c.onError != nil {
		c.onError(m)
	}
}

func (c *userConn) call(id string) chan inMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// register makes the messages of call id arrive on the returned channel.
func (c *userConn) register(id string) chan inMsg {
	ch := make(chan inMsg, 8)
	c.mu.Lock()
	c.calls[id] = ch
	c.mu.Unlock()
	return ch
}

func (c *userConn) unregister(id string) {
	c.mu.Lock()
	delete(c.calls, id)
	c.mu.Unlock()
}

// reserve takes a call slot and n messages of budget, or reports false.
func (c *userConn) reserve(o Options, n int, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = min(o.MsgBurst, c.tokens+now.Sub(c.last).Seconds()*o.MsgRate)
	c.last = now
	if c.active >= o.MaxCallsPerUser || c.tokens < float64(n) {
		return false
	}
	c.active++
	c.tokens -= float64(n)
	return true
}

// release gives a call slot back.
func (c *userConn) release() {
	c.mu.Lock()
	c.active--
	c.mu.Unlock()
}

func (c *userConn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// send writes one text message.
func (c *userConn) send(b []byte) error {
	_, err := c.sendAt(b)
	return err
}

// sendAt writes one text message and returns when the write began: after
// the connection's write lock was taken, so that a wait behind another
// call's message on the same connection is not counted as the gateway's.
func (c *userConn) sendAt(b []byte) (time.Time, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	t0 := time.Now()
	_ = c.ws.SetWriteDeadline(t0.Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return t0, fmt.Errorf("load: %s: send: %w", c.name, err)
	}
	return t0, nil
}

// sendMedia sends an offer or answer, its three candidates and
// end-of-candidates, as Chromium's page would (sdp as the
// RTCSessionDescription object, candidates as toJSON() objects). It returns
// when the write of the offer or answer began (sendAt).
func (c *userConn) sendMedia(typ, callID, target string, m media) (time.Time, error) {
	kind := "offer"
	if typ == "video-answer" {
		kind = "answer"
	}
	b := fmt.Appendf(nil, `{"type":"%s","target":%s,"callId":%s,"sdp":{"type":"%s","sdp":`, typ, mustJSON(target), mustJSON(callID), kind)
	b = append(append(b, m.sdp...), "}}"...)
	t0, err := c.sendAt(b)
	if err != nil {
		return t0, err
	}
	for _, cand := range m.cands {
		b = fmt.Appendf(b[:0], `{"type":"new-ice-candidate","target":%s,"callId":%s,"candidate":`, mustJSON(target), mustJSON(callID))
		if err := c.send(append(append(b, cand...), '}')); err != nil {
			return t0, err
		}
	}
	return t0, c.send(fmt.Appendf(b[:0], `{"type":"end-of-candidates","target":%s,"callId":%s}`, mustJSON(target), mustJSON(callID)))
}

// hangUp ends call callID.
func (c *userConn) hangUp(callID string) error {
	return c.send(fmt.Appendf(nil, `{"type":"hang-up","callId":%s}`, mustJSON(callID)))
}

// close sends a close frame and waits (bounded) for the read loop to end.
func (c *userConn) close() {
	c.wmu.Lock()
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load run done"),
		time.Now().Add(time.Second))
	c.wmu.Unlock()
	if err == nil {
		select {
		case <-c.closed:
		case <-time.After(2 * time.Second):
		}
	}
	_ = c.ws.Close()
	<-c.closed
}

// refund gives back a reservation that was not used.
func (c *userConn) refund(n int) {
	c.mu.Lock()
	c.active--
	c.tokens += float64(n)
	c.mu.Unlock()
}
