package ws

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
)

// The write path. A connection's queue (outQueue) has at most one writer
// at a time: whoever pushed to an idle queue. That writer
//
//   - writes at once, without blocking, on the goroutine that queued the
//     message (a call's answer, an error reply): the frames of everything
//     queued go out in one write system call (writeNow, socket.go);
//   - or, for a broadcast (userlist flushes, chat), through the server's
//     writer pool: a few goroutines that write without blocking for every
//     connection in turn, instead of one goroutine per connection started
//     by every flush (a login storm made thousands at once, and the
//     runtime keeps a goroutine's descriptor for ever and its stack until
//     the next collection);
//   - and only when the socket cannot take it all at once (a slow
//     client: the kernel's send buffer is full) or the connection closes,
//     a dedicated goroutine (writeLoop) that writes with the 10 s deadline,
//     as every write did before.
//
// wmu is held by whoever writes a frame to the socket (data, ping, pong,
// close) and is released only between whole frames: a write that stops
// halfway (the socket is full) hands wmu, with the rest of its chunk, to
// the writeLoop it starts. gorilla/websocket writes a control frame of its
// own only when reading fails (1009 for an oversized message, 1002 for a
// protocol error); the connection closes then.

// writeMode says who asks for a writer.
type writeMode int

const (
	writeInline  writeMode = iota // the goroutine that queued writes, if it can without blocking
	writePooled                   // a broadcast: the server's writer pool writes
	writeClosing                  // the connection starts closing: a writeLoop sends the close frame
)

// kick is called by whoever pushed to an idle queue: it finds the queue a
// writer.
func (c *conn) kick(mode writeMode) {
	switch {
	case c.onWake != nil:
		c.onWake()
	case mode == writeInline && c.sock.canWriteNow():
		c.writeTurn()
	case mode == writePooled && c.s.writers != nil && c.sock.canWriteNow():
		c.s.writers.submit(c)
	default:
		c.startWriter()
	}
}

// startWriter starts a dedicated writer goroutine.
func (c *conn) startWriter() { go c.writeLoop(false) }

// writeTurn writes what is queued without blocking, once. It ends with the
// queue idle, or handed on: to the pool when more was queued meanwhile, to
// writeLoop when the socket is full, the connection closes or a write
// failed. The caller holds the queue (it pushed to it idle, or took it
// from the pool).
func (c *conn) writeTurn() {
	if !c.wmu.TryLock() { // a ping is being written (or waits for the socket)
		c.startWriter()
		return
	}
	locked := true
	defer func() {
		if r := recover(); r != nil {
			if locked {
				c.wmu.Unlock()
			}
			c.panicked("write", r)
			c.startWriter() // it finds the connection closing and sends the close frame
		}
	}()
	msgs, closing := c.out.next(c.closing)
	if closing || len(msgs) == 0 {
		c.wmu.Unlock()
		if closing {
			c.startWriter()
		}
		return
	}
	blocked, err := c.writeFrames(msgs, false)
	switch {
	case err != nil:
		locked = false
		c.wmu.Unlock()
		c.writeFailed(err)
		c.startWriter()
	case blocked:
		locked = false
		c.log.Debug("socket full; a writer waits for it")
		go c.writeLoop(true) // takes over wmu and the rest
	default:
		locked = false
		c.wmu.Unlock()
		if c.out.settle(c.closing) {
			c.more()
		}
	}
}

// more hands a queue that has more (or is closing) on.
func (c *conn) more() {
	if c.s.writers != nil && !c.closing() {
		c.s.writers.submit(c)
		return
	}
	c.startWriter()
}

// writeFrames writes msgs as text frames, chunk by chunk. Without wait it
// never blocks: blocked reports that the socket took only part of a chunk;
// the rest of it and the messages not yet encoded stay in c.unsent for
// writeLoop, and the caller leaves wmu locked for it. It stops early, with
// no error, when the connection starts closing without a flush or a close
// frame went out (the client must get no data after it).
func (c *conn) writeFrames(msgs [][]byte, wait bool) (blocked bool, err error) {
	enc := frameEncoder{msgs: msgs}
	return c.writeEncoded(&enc, wait)
}

// unsent is what a write that stopped halfway left to writeLoop.
type unsent struct {
	rest []byte  // the rest of the chunk, in buf
	buf  *[]byte // a chunk of the pool
	enc  frameEncoder
}

func (c *conn) writeEncoded(enc *frameEncoder, wait bool) (blocked bool, err error) {
	bp := chunks.Get().(*[]byte)
	for {
		if c.closeSent.Load() || (c.closing() && !c.info.flush) {
			break
		}
		buf, ok := enc.next(*bp)
		if !ok {
			break
		}
		*bp = buf
		if wait {
			if err = c.sock.write(buf); err != nil {
				break
			}
			continue
		}
		n, err := c.sock.writeNow(buf)
		if err != nil {
			chunks.Put(bp)
			return false, err
		}
		if n < len(buf) {
			c.unsent = &unsent{rest: buf[n:], buf: bp, enc: *enc}
			return true, nil
		}
	}
	chunks.Put(bp)
	return false, err
}

// writeLoop is the dedicated writer: it writes with the socket's write
// deadline, so it may wait for a slow client. It runs while messages are
// queued and once to send the close frame; holding says it took over wmu
// from a write that stopped halfway. writerDone is closed by the writer
// that closes (or panics), never by one that ends idle.
func (c *conn) writeLoop(holding bool) {
	idle := false
	defer func() {
		if !idle {
			close(c.writerDone)
		}
	}()
	defer c.recoverPanic("write")
	if !holding {
		c.wmu.Lock()
	}
	unlock := sync.OnceFunc(c.wmu.Unlock)
	defer unlock()
	if err := c.finishRest(); err != nil {
		c.writeFailed(err)
	}
	for {
		msgs, closing := c.out.next(c.closing)
		if closing {
			unlock()
			c.writeClose()
			return
		}
		if len(msgs) == 0 {
			idle = true
			return
		}
		if _, err := c.writeFrames(msgs, true); err != nil {
			c.writeFailed(err)
		}
	}
}

// finishRest writes what a write that stopped halfway left: the rest of
// its chunk and the messages it had not encoded yet. Holding wmu.
func (c *conn) finishRest() error {
	u := c.unsent
	if u == nil {
		return nil
	}
	c.unsent = nil
	err := c.sock.write(u.rest)
	chunks.Put(u.buf)
	if err != nil {
		return err
	}
	_, err = c.writeEncoded(&u.enc, true)
	return err
}

func (c *conn) writeFailed(err error) {
	c.log.Debug("write failed", "err", err)
	c.abort(closeInfo{code: websocket.CloseAbnormalClosure, reason: gateway.ReasonDisconnected})
}

// writeClose sends what is queued (when asked to) and the close frame, then
// gives the reader closeGrace to see the client's reply.
func (c *conn) writeClose() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.info.flush {
		if msgs := c.out.take(); len(msgs) > 0 {
			if _, err := c.writeFrames(msgs, true); err != nil {
				return
			}
		}
	}
	if c.closeSent.CompareAndSwap(false, true) {
		msg := websocket.FormatCloseMessage(c.info.code, c.info.text)
		_ = c.sock.control(websocket.CloseMessage, msg)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
}

// sendPing writes the keepalive ping (from its timer).
func (c *conn) sendPing() {
	if c.closing() {
		return
	}
	c.wmu.Lock()
	err := c.sock.control(websocket.PingMessage, nil)
	c.wmu.Unlock()
	if err != nil {
		c.log.Debug("ping failed", "err", err)
		c.abort(closeInfo{code: websocket.CloseAbnormalClosure, reason: gateway.ReasonDisconnected})
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ping != nil && !c.closing() {
		c.ping.Reset(c.s.cfg.PingInterval)
	}
}

// pong answers a client's ping (the reader's ping handler), as gorilla's
// default handler does but under wmu.
func (c *conn) pong(data string) error {
	c.wmu.Lock()
	err := c.sock.control(websocket.PongMessage, []byte(data))
	c.wmu.Unlock()
	var ne interface{ Timeout() bool }
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) {
		return nil
	}
	return err
}

// writerPool writes broadcasts: at most max goroutines, started on demand,
// each taking the next connection with something queued and writing it
// without blocking (writeTurn); a connection whose socket is full goes to
// its own writeLoop, so a slow client never holds up the others.
type writerPool struct {
	mu      sync.Mutex
	queue   []*conn
	running int
	max     int
}

func newWriterPool() *writerPool { return &writerPool{max: max(2, runtime.GOMAXPROCS(0))} }

// submit queues c, whose outQueue it now holds, for a pool writer.
func (p *writerPool) submit(c *conn) {
	p.mu.Lock()
	p.queue = append(p.queue, c)
	start := p.running < p.max
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *writerPool) work() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running--
			p.queue = nil // a storm's backing array is not kept
			p.mu.Unlock()
			return
		}
		c := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		c.writeTurn()
	}
}
