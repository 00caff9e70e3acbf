package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// cdpConn is a minimal Chrome DevTools Protocol client for one page
// target: commands with results; events are ignored.
type cdpConn struct {
	conn    *websocket.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpReply
	done    chan struct{}
	err     error
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var errCDPClosed = errors.New("devtools connection closed")

func dialCDP(ctx context.Context, url string) (*cdpConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1 << 16}
	conn, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("interop: devtools %s: %w", url, err)
	}
	conn.SetReadLimit(64 << 20)
	c := &cdpConn{conn: conn, pending: map[int64]chan cdpReply{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *cdpConn) readLoop() {
	defer close(c.done)
	for {
		var msg struct {
			ID *int64 `json:"id"`
			cdpReply
		}
		if err := c.conn.ReadJSON(&msg); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		if msg.ID == nil {
			continue // an event
		}
		c.mu.Lock()
		ch := c.pending[*msg.ID]
		delete(c.pending, *msg.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// call sends a command and decodes its result into out (if not nil).
func (c *cdpConn) call(ctx context.Context, method string, params, out any) error {
	ch := make(chan cdpReply, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	c.wmu.Lock()
	err := c.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params})
	c.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("interop: devtools %s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("interop: devtools %s: %s", method, r.Error.Message)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(r.Result, out)
	case <-c.done:
		return fmt.Errorf("interop: devtools %s: %w", method, errCDPClosed)
	case <-ctx.Done():
		return fmt.Errorf("interop: devtools %s: %w", method, ctx.Err())
	}
}

// eval evaluates a JavaScript expression in the page, awaiting a promise,
// and decodes its value into out (if not nil). A thrown exception is an
// error.
func (c *cdpConn) eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := c.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if err != nil {
		return err
	}
	if r.Exception != nil {
		msg := r.Exception.Exception.Description
		if msg == "" {
			msg = r.Exception.Text
		}
		return fmt.Errorf("interop: in chromium: %s", msg)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

func (c *cdpConn) close() error { return c.conn.Close() }
