// Package ws is sigbridge's browser adapter: an HTTP server that speaks the
// WebSocket JSON dialect of MDN's "webrtc-from-chat" sample (plus optional
// extensions) and serves the embedded demo page.
package ws
