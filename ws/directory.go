package ws

import (
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/sigbridge/sigbridge/gateway"
)

// maxSeen bounds the names remembered as "known but offline".
const maxSeen = 1 << 16

// directory knows every open connection and who is logged in under which
// name. Lock order: directory.mu, then conn.mu; nothing under directory.mu
// calls into the gateway or blocks (sending only queues).
type directory struct {
	mu     sync.Mutex
	nextID int64
	conns  map[*conn]struct{}
	names  map[string]*conn
	seen   map[string]struct{} // names logged in since start: offline (480), not unknown (404)
}

func newDirectory() *directory {
	return &directory{conns: map[*conn]struct{}{}, names: map[string]*conn{}, seen: map[string]struct{}{}}
}

// add registers a new connection and returns its client id.
func (d *directory) add(c *conn) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	d.conns[c] = struct{}{}
	return d.nextID
}

// remove forgets c; if it was logged in, everybody gets the new userlist.
func (d *directory) remove(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
	if name := c.Name(); name != "" && d.names[name] == c {
		delete(d.names, name)
		d.broadcastLocked(d.userlistLocked())
	}
}

// claimFixed logs c in under an authenticated identity.
func (d *directory) claimFixed(c *conn, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if other, ok := d.names[name]; ok && other != c {
		return fmt.Errorf("%w: %s", ErrNameInUse, name)
	}
	d.setNameLocked(c, name)
	return nil
}

// claim logs c in under the wanted name or, if that is invalid or taken, a
// name derived from it (MDN semantics). It returns the name c got; the
// caller broadcasts the new userlist.
func (d *directory) claim(c *conn, want string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !gateway.IsUserName(want) {
		want = "user" + strconv.FormatInt(c.id, 10)
	}
	if cur := c.Name(); cur == want {
		return want
	}
	got := uniqueName(want, func(n string) bool { _, taken := d.names[n]; return taken })
	d.setNameLocked(c, got)
	return got
}

func (d *directory) setNameLocked(c *conn, name string) {
	if old := c.Name(); old != "" && d.names[old] == c {
		delete(d.names, old)
	}
	d.names[name] = c
	c.setName(name)
	if len(d.seen) < maxSeen {
		d.seen[name] = struct{}{}
	}
}

// lookup returns the connection logged in as name: ErrOffline for a name
// seen since start, ErrNotFound otherwise.
func (d *directory) lookup(name string) (*conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.names[name]; ok {
		return c, nil
	}
	if _, ok := d.seen[name]; ok {
		return nil, fmt.Errorf("%w: %s", gateway.ErrOffline, name)
	}
	return nil, fmt.Errorf("%w: %s", gateway.ErrNotFound, name)
}

// userlist returns the encoded userlist message.
func (d *directory) userlist() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.userlistLocked()
}

func (d *directory) userlistLocked() []byte {
	users := make([]string, 0, len(d.names))
	for n := range d.names {
		users = append(users, n)
	}
	slices.Sort(users)
	return encode(userlistMsg{Type: typeUserlist, Users: users})
}

// broadcast queues b to every open connection.
func (d *directory) broadcast(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.broadcastLocked(b)
}

func (d *directory) broadcastLocked(b []byte) {
	for c := range d.conns {
		c.enqueue(b, "broadcast")
	}
}

// all returns every open connection.
func (d *directory) all() []*conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*conn, 0, len(d.conns))
	for c := range d.conns {
		out = append(out, c)
	}
	return out
}

// uniqueName returns base, or base followed by the smallest number that is
// not taken, within the 64-character limit of user names.
func uniqueName(base string, taken func(string) bool) string {
	if !taken(base) {
		return base
	}
	for n := 1; ; n++ {
		suffix := strconv.Itoa(n)
		name := truncateRunes(base, 64-len(suffix)) + suffix
		if !taken(name) {
			return name
		}
	}
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
