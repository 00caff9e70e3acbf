// Package sip is sigbridge's SIP adapter: a back-to-back user agent on sipgo
// that turns SIP dialogs into gateway legs.
package sip
