// Package xmppwrite writes to a mellium XMPP session without handing
// mellium a context that ends.
//
// For every Send (and for stream negotiation) mellium arms a goroutine
// that, once the given context is done, sets the connection's write (or
// read and write) deadline to the past and then back to none. When the
// context ends just as the call returns, as any context with a timeout and
// a deferred cancel does, that goroutine may run after the call has
// returned and land on the next writer's write: the write fails with
// "i/o timeout", may leave half a stanza on the wire, and mellium's
// buffered writer then fails every later write while the stream still
// reads. A loaded machine makes the late goroutine likely; the gateway's
// component stream was seen to lose every outgoing stanza for minutes.
//
// Writer serializes the writes of one session itself: waiting for its
// turn ends with the caller's context (nothing written), and each write is
// bounded by a deadline that Writer sets and clears on the connection.
// Negotiate bounds stream negotiation the same way. The gateway's XMPP
// adapter and the XMPP test peers (xmpp/xmpptest, interop) all use it.
package xmppwrite
