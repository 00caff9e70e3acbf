package ws

import (
	"slices"
	"time"
)

// Directory modes (Config.Directory).
const (
	// DirectoryAll tells every connection who is online: the MDN userlist,
	// or user-joined/user-left for clients with the "user-events" feature.
	DirectoryAll = "all"
	// DirectoryNone tells nobody who is online; calls still work by name.
	DirectoryNone = "none"
)

// featureUserEvents is the feature a client names to get user-joined and
// user-left instead of whole userlists.
const featureUserEvents = "user-events"

// defaultListInterval is the least time between two lists (or user
// events) sent to one connection.
const defaultListInterval = time.Second

// userlists tells the connections who is online, coalesced: changes are
// recorded as they happen, and at most once per interval one flush sends
// every connection the state at that moment (the last state wins; nothing
// queues up). Every connection is flushed together, so one encoding serves
// them all and every incremental client shares the same baseline: the
// previous flush. It lives inside directory and is guarded by its mutex.
type userlists struct {
	d         *directory
	mode      string
	interval  time.Duration
	names     []string        // online, sorted (in step with directory.names)
	version   uint64          // bumps on every change; 0 is "never sent"
	events    []presenceEvent // changes since the last flush
	lastFlush time.Time
	timer     *time.Timer // a flush is due
}

type presenceEvent struct {
	name   string
	joined bool
}

// presence is what one connection has been told; guarded by directory.mu.
type presence struct {
	incremental bool   // opted in to user-joined/user-left
	started     bool   // incremental: got its first user-joined (everybody)
	sent        uint64 // full lists: the version it has (0: none)
}

func (u *userlists) off() bool { return u.mode == DirectoryNone }

// joined and left record a change; the caller then calls request.
func (u *userlists) joined(name string) {
	if u.off() {
		return
	}
	if i, found := slices.BinarySearch(u.names, name); !found {
		u.names = slices.Insert(u.names, i, name)
	}
	u.changed(presenceEvent{name: name, joined: true})
}

func (u *userlists) left(name string) {
	if u.off() {
		return
	}
	if i, found := slices.BinarySearch(u.names, name); found {
		u.names = slices.Delete(u.names, i, i+1)
		if cap(u.names) > shrinkMin && len(u.names) < cap(u.names)/4 {
			u.names = slices.Clone(u.names)
		}
	}
	u.changed(presenceEvent{name: name})
}

func (u *userlists) changed(ev presenceEvent) {
	u.version++
	u.events = append(u.events, ev)
}

// resend makes c get the list at the next flush (the MDN server answers
// every username with one), as user events from now on if incremental.
func (u *userlists) resend(c *conn, incremental bool) {
	if u.off() {
		return
	}
	p := &c.presence
	if incremental && !p.incremental {
		p.incremental, p.started = true, false
	}
	p.sent = 0
	u.request()
}

// request flushes now if the last flush is an interval old, else arms the
// timer for when it will be.
func (u *userlists) request() {
	if u.off() || u.timer != nil {
		return
	}
	wait := u.interval - time.Since(u.lastFlush)
	if wait <= 0 {
		u.flush()
		return
	}
	u.timer = time.AfterFunc(wait, func() {
		u.d.mu.Lock()
		defer u.d.mu.Unlock()
		u.timer = nil
		u.flush()
	})
}

// pending reports whether a flush is due (tests and benchmarks).
func (u *userlists) pending() bool { return u.timer != nil }

// flush sends every connection what changed since the previous flush.
func (u *userlists) flush() {
	u.lastFlush = time.Now()
	gone, came := u.diff()
	var full, everybody, leftMsg, joinedMsg []byte
	for c := range u.d.conns {
		p := &c.presence
		switch {
		case p.incremental && !p.started:
			everybody = lazy(everybody, func() []byte { return encode(userEventMsg{Type: typeUserJoined, Users: u.names}) })
			c.enqueueBroadcast(everybody, typeUserJoined)
			p.started = true
		case p.incremental:
			if len(gone) > 0 {
				leftMsg = lazy(leftMsg, func() []byte { return encode(userEventMsg{Type: typeUserLeft, Users: gone}) })
				c.enqueueBroadcast(leftMsg, typeUserLeft)
			}
			if len(came) > 0 {
				joinedMsg = lazy(joinedMsg, func() []byte { return encode(userEventMsg{Type: typeUserJoined, Users: came}) })
				c.enqueueBroadcast(joinedMsg, typeUserJoined)
			}
		case p.sent != u.version:
			full = lazy(full, func() []byte { return encode(userlistMsg{Type: typeUserlist, Users: orEmpty(u.names)}) })
			c.enqueueBroadcast(full, typeUserlist)
			p.sent = u.version
		}
	}
}

// diff returns the names that left and those that joined since the last
// flush (net: a name that left and came back is in neither), and forgets
// the recorded changes.
func (u *userlists) diff() (gone, came []string) {
	before := make(map[string]bool, len(u.events)) // name → online at the last flush
	for _, ev := range u.events {
		if _, ok := before[ev.name]; !ok {
			before[ev.name] = !ev.joined
		}
	}
	for name, was := range before {
		_, is := u.d.names[name]
		if _, remote := u.d.remote[name]; remote {
			is = true
		}
		switch {
		case was && !is:
			gone = append(gone, name)
		case !was && is:
			came = append(came, name)
		}
	}
	slices.Sort(gone)
	slices.Sort(came)
	if cap(u.events) > shrinkMin {
		u.events = nil
	} else {
		u.events = u.events[:0]
	}
	return gone, came
}

// orEmpty keeps "users":[] an array when nobody is online.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func lazy(b []byte, build func() []byte) []byte {
	if b == nil {
		return build()
	}
	return b
}

// sorted returns a copy of the names online.
func (u *userlists) sorted() []string { return slices.Clone(u.names) }
