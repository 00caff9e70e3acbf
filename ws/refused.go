package ws

// refusedKeep is how many refused callIds a connection remembers.
const refusedKeep = 8

// refusedIDs remembers the callIds of a connection's last offers the
// gateway refused at once (shed while overloaded, a limit, an unknown
// target). The client got an `error` and a `hang-up` for each, but its
// trickled candidates, end-of-candidates and hang-up for that call are
// usually on their way already: they are dropped without a reply instead
// of each getting a 481, which under overload doubled what a shed call
// cost. Calls without a callId are not remembered (their messages name
// only the peer, which a later call may share).
type refusedIDs struct {
	ids  [refusedKeep]string
	next int
}

// noteRefused remembers callID ("" is ignored). Read goroutine only.
func (c *conn) noteRefused(callID string) {
	if callID == "" {
		return
	}
	if c.refused == nil {
		c.refused = &refusedIDs{}
	}
	r := c.refused
	r.ids[r.next] = callID
	r.next = (r.next + 1) % refusedKeep
}

// wasRefused reports whether callID is one of the last refused offers'.
func (c *conn) wasRefused(callID string) bool {
	if callID == "" || c.refused == nil {
		return false
	}
	for _, id := range c.refused.ids {
		if id == callID {
			return true
		}
	}
	return false
}
