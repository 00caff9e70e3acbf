package jingle

// SDP direction attribute values.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// isDirection reports an SDP direction attribute key.
func isDirection(key string) bool {
	switch key {
	case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
		return true
	}
	return false
}

// SendersFromDirection maps an SDP direction written by author to the
// Jingle senders value (protocols.md §2.5 a). sendrecv (or an unknown or
// empty direction) gives SendersBoth.
func SendersFromDirection(dir string, author Role) Senders {
	switch dir {
	case dirSendOnly:
		return Senders(author.String())
	case dirRecvOnly:
		return Senders(author.Other().String())
	case dirInactive:
		return SendersNone
	}
	return SendersBoth
}

// DirectionFromSenders is the reverse of SendersFromDirection: the SDP
// direction that author writes for senders. Empty or unknown senders mean
// both (sendrecv); rejected maps to inactive.
func DirectionFromSenders(s Senders, author Role) string {
	switch s {
	case Senders(author.String()):
		return dirSendOnly
	case Senders(author.Other().String()):
		return dirRecvOnly
	case SendersNone, SendersRejected:
		return dirInactive
	}
	return dirSendRecv
}

// omitBoth returns "" for SendersBoth (the default is not written).
func omitBoth(s Senders) Senders {
	if s == SendersBoth {
		return ""
	}
	return s
}
