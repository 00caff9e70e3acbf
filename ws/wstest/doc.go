// Package wstest provides test peers for sigbridge's browser dialect (the
// WebSocket JSON of MDN's "webrtc-from-chat" plus extensions): a dialect
// Client over gorilla/websocket and a Peer that drives a real pion/webrtc
// PeerConnection through that client the way the MDN sample page does.
//
// It talks to a gateway only over the wire and imports no sigbridge
// package, so tests of any adapter (and the interop harness) can use it to
// put a browser-dialect leg into a call:
//
//	c, _, err := wstest.Dial(ctx, "ws://127.0.0.1:6503/ws", nil)
//	name, err := c.Login(ctx, "alice", nil)
//	p, err := wstest.NewPeer(c, wstest.PeerOptions{})
//	p.Start(ctx)
//	err = p.Call(ctx, "bob") // or wait for an incoming video-offer
//	<-p.Connected()           // ICE connected
//	msg := <-p.Messages()     // data channel text from the other side
//
// Media stays on loopback: the Peer gathers host candidates on "lo" only,
// includes loopback candidates and disables mDNS.
package wstest
