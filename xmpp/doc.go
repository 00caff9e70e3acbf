// Package xmpp is sigbridge's XMPP adapter: an XEP-0114 component (or a client
// session) that turns Jingle sessions into gateway legs.
package xmpp
