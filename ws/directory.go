package ws

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// maxSeen bounds the names remembered as "known but offline".
const maxSeen = 1 << 16

// shrinkMin is the map size below which shrinking is not worth a copy.
const shrinkMin = 256

// directory knows every open connection and who is logged in under which
// name. Lock order: directory.mu, then conn.mu; nothing under directory.mu
// calls into the gateway or blocks (sending only queues).
type directory struct {
	mu      sync.Mutex
	nextID  int64
	conns   map[*conn]struct{}
	names   map[string]*conn
	seen    map[string]struct{} // names that were online here since start and left: offline (480), not unknown (404)
	peak    int                 // most connections since the maps were last rebuilt
	release *memReleaser
	lists   userlists // what clients are told about who is online

	// With a cluster (registry.go): names are claimed in reg too;
	// remote holds the names online on other nodes, pending the names
	// being claimed here.
	reg     Registry
	remote  map[string]struct{}
	pending map[string]struct{}
}

func newDirectory(mode string, interval time.Duration) *directory {
	d := &directory{conns: map[*conn]struct{}{}, names: map[string]*conn{}, seen: map[string]struct{}{},
		release: newMemReleaser(), remote: map[string]struct{}{}, pending: map[string]struct{}{}}
	d.lists = userlists{mode: mode, interval: interval, d: d}
	return d
}

// add registers a new connection and returns its client id.
func (d *directory) add(c *conn) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	d.conns[c] = struct{}{}
	return d.nextID
}

// remove forgets c; if it was logged in, the others learn that it left.
func (d *directory) remove(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
	if name := c.Name(); name != "" && d.names[name] == c {
		d.dropNameLocked(name)
		d.lists.request()
	}
	d.shrinkLocked()
}

// dropNameLocked forgets a local name: the registry releases it, and the
// others learn it left unless another node has it too.
func (d *directory) dropNameLocked(name string) {
	delete(d.names, name)
	if len(d.seen) < maxSeen {
		d.seen[name] = struct{}{} // from now on offline (480), not unknown (404)
	}
	if d.reg != nil {
		d.reg.Release(name)
	}
	if _, elsewhere := d.remote[name]; !elsewhere {
		d.lists.left(name)
	}
}

// takenLocked reports whether name is in use here, on another node, or
// being claimed.
func (d *directory) takenLocked(name string) bool {
	_, local := d.names[name]
	_, remote := d.remote[name]
	_, pending := d.pending[name]
	return local || remote || pending
}

// shrinkLocked copies the maps of connections and names into new ones once
// they hold a quarter of their peak: Go maps never give back the buckets
// of deleted entries, so a burst of connections would hold its memory
// forever. The memory the burst's connections held goes back to the
// operating system a moment later.
func (d *directory) shrinkLocked() {
	d.peak = max(d.peak, len(d.conns))
	if d.peak < shrinkMin || len(d.conns) > d.peak/4 {
		return
	}
	d.conns = copyMap(d.conns)
	d.names = copyMap(d.names)
	d.peak = len(d.conns)
	d.release.request()
}

// copyMap returns a copy of m sized for what it holds now.
func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	maps.Copy(out, m)
	return out
}

// claimFixed logs c in under an authenticated identity: ErrNameInUse if
// that identity is connected here or on another node.
func (d *directory) claimFixed(c *conn, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if other, ok := d.names[name]; ok && other != c {
		return fmt.Errorf("%w: %s", ErrNameInUse, name)
	}
	if d.reg != nil {
		if err := d.registryClaimLocked(c, name); err != nil {
			return err
		}
	}
	d.setNameLocked(c, name)
	return nil
}

// claim logs c in under the wanted name or, if that is invalid or taken
// (here or on another node), a name derived from it (MDN semantics). It
// returns the name c got; the caller then calls loggedIn, which sends the
// user list. Only a cluster registry that cannot be reached is an error.
func (d *directory) claim(c *conn, want string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !gateway.IsUserName(want) {
		want = "user" + strconv.FormatInt(c.id, 10)
	}
	if cur := c.Name(); cur == want {
		return want, nil
	}
	refused := map[string]bool{}
	for range maxClaimTries {
		got := uniqueName(want, func(n string) bool { return refused[n] || d.takenLocked(n) })
		if d.reg == nil {
			d.setNameLocked(c, got)
			return got, nil
		}
		err := d.registryClaimLocked(c, got)
		if err == nil {
			d.setNameLocked(c, got)
			return got, nil
		}
		if !errors.Is(err, ErrNameInUse) {
			return "", err
		}
		refused[got] = true
	}
	return "", fmt.Errorf("%w: no free name near %q", ErrDirectoryDown, want)
}

// registryClaimLocked claims name in the cluster registry. It unlocks
// d.mu during the claim (a network round trip), holding the name as
// pending, and locks it again; a connection closed meanwhile gives the
// name back.
func (d *directory) registryClaimLocked(c *conn, name string) error {
	d.pending[name] = struct{}{}
	d.mu.Unlock()
	err := d.registryClaim(name)
	d.mu.Lock()
	delete(d.pending, name)
	if err != nil {
		return err
	}
	if _, open := d.conns[c]; !open {
		d.reg.Release(name)
		return fmt.Errorf("%w: connection closed while logging in", errConnGone)
	}
	if other, ok := d.names[name]; ok && other != c {
		d.reg.Release(name) // cannot happen while pending guards it; keep the local owner
		return fmt.Errorf("%w: %s", ErrNameInUse, name)
	}
	return nil
}

func (d *directory) setNameLocked(c *conn, name string) {
	if old := c.Name(); old != "" && d.names[old] == c {
		d.dropNameLocked(old)
	}
	d.names[name] = c
	d.lists.joined(name)
	c.setName(name)
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

// loggedIn asks for the user list to reach c (again) after its username,
// as incremental user-joined/user-left from now on if it opted in.
func (d *directory) loggedIn(c *conn, incremental bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lists.resend(c, incremental)
}

// online returns the names logged in, sorted.
func (d *directory) online() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lists.sorted()
}

// broadcast queues b to every open connection.
func (d *directory) broadcast(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.broadcastLocked(b)
}

func (d *directory) broadcastLocked(b []byte) {
	for c := range d.conns {
		c.enqueueBroadcast(b, "broadcast")
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

// count returns the number of open connections.
func (d *directory) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}
