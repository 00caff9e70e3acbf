package xmppwrite

import (
	"context"
	"net"
	"time"

	"mellium.im/xmpp"
)

// longAgo is a deadline in the past: it makes blocked reads and writes
// return at once.
var longAgo = time.Unix(1, 0)

// Negotiate runs newSession (a mellium NewSession call on conn) bounded by
// ctx, but hands it a context that never ends (see the package comment):
// ctx's deadline becomes conn's deadline, and ctx ending early sets it to
// the past. If ctx ended during negotiation the session is refused, since
// the deadline may already be set to the past; conn is left to the caller
// to close either way. On success conn has no deadline.
func Negotiate(ctx context.Context, conn net.Conn,
	newSession func(context.Context) (*xmpp.Session, error)) (*xmpp.Session, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	s, err := newSession(context.Background())
	stopped := stop()
	if err != nil {
		return nil, err
	}
	if !stopped {
		return nil, ctx.Err()
	}
	_ = conn.SetDeadline(time.Time{})
	return s, nil
}
