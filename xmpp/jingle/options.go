package jingle

import "github.com/pion/sdp/v3"

// SDPToJingleOptions tunes SDPToJingle.
type SDPToJingleOptions struct {
	// Mids is the session's table; nil uses a throw-away table.
	Mids *MidTable
	// DropMDNS drops host candidates with ".local" mDNS names.
	DropMDNS bool
}

// JingleToSDPOptions tunes JingleToSDP.
type JingleToSDPOptions struct {
	// Origin is this leg's o= line: each leg owns its origin (fixed
	// session id, version +1 per changed SDP). Empty fields get "-",
	// "IN", "IP4" and "127.0.0.1".
	Origin sdp.Origin
	// Mids is the session's table; nil uses a throw-away table.
	Mids *MidTable
	// DropMDNS drops host candidates with ".local" mDNS names.
	DropMDNS bool
}
