package ws

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/lazylog"
)

// Timings that are not worth configuring.
const (
	writeWait    = 10 * time.Second // one write to the socket
	closeGrace   = time.Second      // how long to wait for the client's close reply
	placeTimeout = 10 * time.Second // placing a call (the callee adapter's Dial)
	lingerBytes  = 1 << 20          // unread input drained before closing the socket
)

// conn is one browser connection. The read goroutine (serve: reads, parses,
// handles, posts to calls) lives as long as the connection. Everybody else
// (call goroutines, broadcasts, Dial) queues messages with enqueue, which
// never blocks: a full queue drops the connection. The queue's writer
// (writer.go) is the goroutine that queued to an idle queue, writing
// without blocking, or the server's writer pool for broadcasts; a
// dedicated goroutine (writeLoop) runs only while a slow client's socket
// is full and to send the close frame. Pings are sent by a timer.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	id       int64
	identity string // from the token; "" without auth
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	limiter  *bucket // read goroutine only
	calls    callTable
	ext      atomic.Bool // the client speaks the extensions (features or callId)
	renames  *bucket     // read goroutine only: the rename budget
	refused  *refusedIDs // read goroutine only: callIds of offers just refused (made on demand)
	recent   recentWords // read goroutine only: values its messages repeat (clientMessage.recent)
	presence presence    // what it has been told about who is online; guarded by directory.mu

	turnRefresh turnRefresh // fresh TURN credentials before expiry (turn.go)

	br         *bufio.Reader // gorilla's read buffer, ours (readbuf.go); nil in tests that build a conn by hand
	stage      *stagedReader // what br reads the socket through (stage_unix.go); nil if none
	out        *outQueue
	sock       socket        // writes frames (socket.go); holding wmu
	wmu        sync.Mutex    // held by whoever writes a frame (writer.go)
	unsent     *unsent       // what a write that stopped halfway left (holding wmu)
	done       chan struct{} // closed when the connection starts closing
	closeOnce  sync.Once
	info       closeInfo // written once, before done is closed
	closeSent  atomic.Bool
	linger     atomic.Bool   // unread input is waiting (oversized message)
	writerDone chan struct{} // closed by the writer that sent the close frame
	onWake     func()        // tests: replaces finding the queue a writer

	mu   sync.Mutex // guards name and ping
	name string
	ping *time.Timer // the keepalive ping (nil once stopped)
}

// closeInfo says how a connection ends: the close frame, whether queued
// messages go out first, and the reason its calls end with.
type closeInfo struct {
	code   int
	text   string
	flush  bool
	reason gateway.Reason
}

func newConn(s *Server, ws *websocket.Conn, identity, remote string) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{s: s, ws: ws, identity: identity, ctx: ctx, cancel: cancel,
		limiter: newBucket(s.cfg.RatePerSecond, s.cfg.RateBurst, time.Now()),
		renames: newRenameBudget(time.Now()),
		out:     newOutQueue(s.cfg.SendQueue), sock: newSocket(ws), done: make(chan struct{}), writerDone: make(chan struct{})}
	c.id = s.dir.add(c)
	c.log = lazylog.WithAttrs(s.log, slog.Int64("conn", c.id), slog.String("remote", remote))
	return c
}

// Name returns the connection's logged-in name ("" before login).
func (c *conn) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

func (c *conn) setName(n string) {
	c.mu.Lock()
	c.name = n
	c.mu.Unlock()
}

// serve opens the connection on the calling goroutine and returns once a
// reader goroutine runs (read); the reader closes it.
func (c *conn) serve() {
	reading := false
	defer func() {
		if !reading {
			c.finish()
		}
	}()
	defer c.recoverPanic("read")
	c.startPing()
	c.s.metrics.Connection("ws", 1)
	c.log.Info("connection opened", "identity", c.identity, "subprotocol", c.ws.Subprotocol())
	if c.s.isClosing() {
		c.closeWith(goingAway())
	}
	c.configure()
	c.greet()
	reading = true
	go c.read() // also after a refused greeting: it waits for the close reply
}

func (c *conn) configure() {
	c.ws.SetReadLimit(int64(c.s.cfg.MaxMessageBytes))
	c.keepAlive()
	c.ws.SetPongHandler(func(string) error { c.keepAlive(); return nil })
	c.ws.SetPingHandler(c.pong)
	c.ws.SetCloseHandler(c.echoClose)
}

// echoClose answers the client's close frame with its code, as gorilla's
// default handler does, but under wmu; no data frame follows it.
func (c *conn) echoClose(code int, _ string) error {
	msg := []byte{}
	if code != websocket.CloseNoStatusReceived {
		msg = websocket.FormatCloseMessage(code, "")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closeSent.Store(true)
	_ = c.sock.control(websocket.CloseMessage, msg)
	return nil
}

// keepAlive pushes the read deadline out by one ping interval plus the pong
// timeout; once closing, only the close grace remains.
func (c *conn) keepAlive() {
	if c.closing() {
		return
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PingInterval + c.s.cfg.PongTimeout))
	if c.closing() {
		_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
	}
}

// read is the connection's reader: it waits for the next message, handles
// it and hands reading on to a fresh goroutine, so that only one reader
// runs at a time and messages are handled in order. The fresh goroutine
// has the small stack that a blocked read needs: an idle connection does
// not keep the stack that handling a message grew (8 KiB or more) until
// the garbage collector shrinks it. When the next message has arrived
// already (inputPending; also after the last message of a burst when the
// read buffer holds more), the reader goes on reading it itself: a fresh
// goroutine would only grow its stack again at once. When reading ends,
// the last reader closes the connection (finish).
func (c *conn) read() {
	handedOn := false
	defer func() {
		if !handedOn {
			c.finish()
		}
	}()
	defer c.recoverPanic("read")
	growReadStack()
	grown := false
	handled := 0
	for {
		typ, buf, err := c.readMessage()
		if err != nil {
			c.readEnded(err)
			return
		}
		if c.closing() {
			putReadBuf(buf)
			continue // draining until the client's close reply
		}
		c.keepAlive()
		if !grown {
			growStack()
			grown = true
		}
		last := c.receive(typ, buf.Bytes())
		putReadBuf(buf)
		handled++
		if c.buffered() || !last && c.inputPending() {
			continue // the next message is here already: no fresh goroutine for it
		}
		if c.s.cfg.onHandOn != nil {
			c.s.cfg.onHandOn(handled)
		}
		handedOn = true
		go c.read()
		return
	}
}

// handleStack is about the stack that handling a message needs beyond
// the reader's own frames: parsing, the call's handling (the reader
// handles its call's events itself, gateway.Call.PostInline), rendering
// and writing to the other leg's socket.
const handleStack = 8 << 10

// growStack grows the reader's stack to what handling a message needs in
// one step, while it is shallow: a fresh reader starts with the runtime's
// smallest stack, and growing it on the way (2, 4, 8, then 16 KiB) copies
// the deep stack of a handler each time, adjusting every frame's
// pointers (about 8 % of a browser → browser call's CPU). The reader calls
// it once, when its first message has arrived: a reader blocked on an
// idle connection keeps its small stack, and the grown one goes with the
// goroutine when reading is handed on.
//
//go:noinline
func growStack() {
	var pad [handleStack]byte
	touch(pad[:])
}

// readStack is about the stack a reader blocked in a read needs (gorilla's
// frame reader down to the poller): its stack grows to 4 KiB anyway.
const readStack = 2 << 10

// growReadStack grows a fresh reader's stack to what a blocked read needs
// at its start, where copying it costs nothing, instead of deep in the
// read, where the copy adjusts a dozen frames (every hand-on did that).
//
//go:noinline
func growReadStack() {
	var pad [readStack]byte
	touch(pad[:])
}

//go:noinline
func touch(b []byte) { b[0] = 1 }

// readBufs are the buffers messages are read into (gorilla's ReadMessage
// grows a new one per message with io.ReadAll: several allocations for an
// SDP offer). Handling a message copies what it keeps, so the buffer goes
// back to the pool once the message is handled.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledReadBuf: larger buffers (a rare large message) are not kept.
const maxPooledReadBuf = 64 << 10

// readMessage reads the next message into a pooled buffer.
func (c *conn) readMessage() (int, *bytes.Buffer, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		putReadBuf(buf)
		return 0, nil, err
	}
	return typ, buf, nil
}

// debugging reports whether c.log writes debug records. The records of
// every call check it first: their arguments (the variadic slice, each
// value made an interface, a target's String) cost allocations even when
// the level is off.
func (c *conn) debugging() bool {
	return c.log.Enabled(context.Background(), slog.LevelDebug)
}

func putReadBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledReadBuf {
		readBufs.Put(b)
	}
}

// receive applies the frame-level rules, then handles the message; last
// is handle's.
func (c *conn) receive(typ int, data []byte) (last bool) {
	if !c.limiter.allow(time.Now()) {
		c.flooded()
		return false
	}
	if typ != websocket.TextMessage {
		c.sendError(errorf(ErrMalformed, "binary frames are not accepted"), "", "")
		return false
	}
	if !utf8.Valid(data) { // RFC 6455 §8.1: fail the connection
		c.noteError(websocket.CloseInvalidFramePayloadData, "", "invalid UTF-8 in a text frame")
		c.closeWith(closeInfo{code: websocket.CloseInvalidFramePayloadData, text: "invalid UTF-8",
			reason: gateway.ReasonDisconnected})
		return false
	}
	return c.handle(data)
}

func (c *conn) flooded() {
	c.sendError(errorf(ErrRateLimited, "over the message rate"), "", "")
	c.closeWith(closeInfo{code: websocket.ClosePolicyViolation, text: "rate limit exceeded", flush: true,
		reason: gateway.ReasonDisconnected})
}

func (c *conn) readEnded(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.closeSent.Store(true) // gorilla sent 1009
		c.linger.Store(true)
		c.noteError(websocket.CloseMessageTooBig, "", fmt.Sprintf("message over %d bytes", c.s.cfg.MaxMessageBytes))
	case errors.As(err, &ce):
		c.log.Debug("client closed", "code", ce.Code)
	case isTimeout(err) && !c.closing():
		c.log.Info("keepalive timeout")
		c.closeWith(closeInfo{code: websocket.CloseGoingAway, text: "keepalive timeout", reason: gateway.ReasonDisconnected})
	default:
		c.log.Debug("read ended", "err", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// finish runs on the last reader when it stops: it forgets the
// connection, ends its calls and closes the socket.
func (c *conn) finish() {
	c.closeWith(closeInfo{code: websocket.CloseNormalClosure, reason: gateway.ReasonDisconnected})
	c.s.dir.remove(c)
	c.stopPing()
	c.stopTURNRefresh()
	c.endCalls()
	c.cancel()
	select { // let the writer send the close frame, unless it is stuck
	case <-c.writerDone:
	case <-time.After(closeGrace):
	}
	c.drainInput()
	_ = c.ws.Close()
	<-c.writerDone
	c.s.metrics.Connection("ws", -1)
	c.log.Info("connection closed", "name", c.Name(), "code", c.info.code)
	c.s.wg.Done()
}

// endCalls hangs up every call of the connection with the close reason.
func (c *conn) endCalls() {
	for _, l := range c.calls.close() {
		l.ended.Store(true)
		err := l.post(gateway.Hangup{Reason: c.info.reason})
		if err != nil && !errors.Is(err, gateway.ErrCallEnded) {
			c.log.Warn("could not end call", "err", err)
		}
	}
}

// drainInput reads what the client still sends (the rest of an oversized
// message) for a moment, so that closing does not reset the connection
// before the client has read our close frame.
func (c *conn) drainInput() {
	if !c.linger.Load() {
		return
	}
	nc := c.ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
	_, _ = io.CopyN(io.Discard, nc, lingerBytes)
}

func (c *conn) recoverPanic(where string) {
	if r := recover(); r != nil {
		c.panicked(where, r)
	}
}

// panicked counts and logs a recovered panic and closes the connection.
func (c *conn) panicked(where string, r any) {
	c.s.metrics.Panic()
	c.log.Error("connection panicked; closing it", "in", where, "panic", fmt.Sprint(r))
	c.abort(closeInfo{code: websocket.CloseInternalServerErr, text: "internal error", reason: gateway.ReasonInternal})
}

// closing reports whether the connection has started to close.
func (c *conn) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeWith starts closing (once): the writer sends the close frame, the
// reader drains until the client answers or the grace period ends.
func (c *conn) closeWith(info closeInfo) {
	c.closeOnce.Do(func() {
		c.info = info
		close(c.done)
		if c.out.wake() {
			c.kick(writeClosing)
		}
	})
}

// abort closes at once, without waiting for anybody.
func (c *conn) abort(info closeInfo) {
	c.closeWith(info)
	_ = c.ws.NetConn().Close()
}

func goingAway() closeInfo {
	return closeInfo{code: websocket.CloseGoingAway, text: "server shutting down", flush: true, reason: gateway.ReasonShutdown}
}

// enqueue queues one message without blocking. If the queue was idle, the
// caller writes it at once when the socket takes it without waiting. A
// full queue means the client does not read: the connection is dropped.
func (c *conn) enqueue(b []byte, typ string) bool { return c.queue(b, typ, writeInline) }

// enqueueBroadcast is enqueue for a message that goes to every connection
// (its caller holds directory.mu): the writer pool writes it.
func (c *conn) enqueueBroadcast(b []byte, typ string) bool { return c.queue(b, typ, writePooled) }

func (c *conn) queue(b []byte, typ string, mode writeMode) bool {
	if c.closing() {
		return false
	}
	ok, start := c.out.push(b)
	if !ok {
		c.noteError(websocket.ClosePolicyViolation, typ, "send queue full; dropping the connection")
		c.abort(closeInfo{code: websocket.ClosePolicyViolation, text: "send queue overflow", reason: gateway.ReasonDisconnected})
		return false
	}
	c.s.metrics.Message("ws", "out", typ)
	if start {
		c.kick(mode)
	}
	return true
}

// startPing arms the keepalive ping: a timer, not a goroutine, so that an
// idle connection costs no writer. The ping is written under wmu, between
// whole frames (writer.go).
func (c *conn) startPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ping = time.AfterFunc(c.s.cfg.PingInterval, c.sendPing)
}

func (c *conn) stopPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ping != nil {
		c.ping.Stop()
		c.ping = nil
	}
}

// sendError tells the client that a message was refused, logs and counts it.
func (c *conn) sendError(err error, ref, callID string) {
	code, reason := status(err)
	c.noteError(code, ref, err.Error())
	c.enqueue(encode(errorMsg{Type: typeError, Code: code, Reason: reason, Text: publicText(err),
		Ref: token(ref), CallID: callID}), typeError)
}

// noteError logs and counts one error (a code sent to the client, or a
// close code for connections closed by a limit).
func (c *conn) noteError(code int, ref, text string) {
	c.s.metrics.Error("ws", code)
	c.log.Info("client error", "code", code, "ref", token(ref), "err", text)
}
