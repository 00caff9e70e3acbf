package ws

import "sync"

// messages holds the clientMessage a reader parses each message into:
// handling copies what it keeps of a message (its strings are not in the
// message's memory), so the message is reused once handled.
var messages = sync.Pool{New: func() any { return new(clientMessage) }}

func getMessage() *clientMessage { return messages.Get().(*clientMessage) }

// putMessage clears m and pools it. An SDP buffer not released (its parse
// failed: the error may hold the text) is left to the garbage collector.
func putMessage(m *clientMessage) {
	*m = clientMessage{}
	messages.Put(m)
}
