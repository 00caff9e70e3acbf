package xmpp

import (
	"sync"

	"mellium.im/xmpp/jid"
)

// devices is what the gateway knows about the resources (devices) of the
// users that share presence with it: which are available, and what they
// can do (XEP-0115 caps, disco#info cached by ver). An outgoing call to a
// bare JID forks to the known devices that take Jingle without JMI
// (fork.go). Presence comes from directed presence to a gateway JID or
// from a subscription (presence.go). Every table is bounded: beyond a
// limit an arbitrary entry is evicted (Go's map order), and an unavailable
// presence drops its resource at once. With a DeviceStore (devicestore.go)
// every user whose entry changed is marked dirty, and the store's writer
// mirrors it. Safe for concurrent use.
type devices struct {
	mu       sync.Mutex
	users    map[string]*user    // bare JID -> what is known of the user
	caps     map[string]features // verified sha-1 ver -> features
	inFlight map[string]bool     // vers (or full JIDs) with a disco#info query out

	tracking bool            // a DeviceStore mirrors the users
	loading  bool            // the store is being loaded: no writes yet
	dirty    map[string]bool // bare JIDs changed since they were last written
	wake     chan struct{}   // a user became dirty
}

// user is what the gateway knows of one user.
type user struct {
	// via is the gateway JID whose subscription to the user's presence
	// the user approved (it sent subscribed), "" if none is known: the
	// gateway may probe the user's presence from it (devicestore.go).
	via string
	res map[string]*device // resource -> available device
}

// device is one available resource.
type device struct {
	ver   string    // its caps ver, if it sent usable caps
	feats *features // what it can do, once known
	// restored: loaded from the store after a takeover and not confirmed
	// by a presence since.
	restored bool
}

// Bounds of the tables (README "Limits").
const (
	maxPresenceUsers = 4096 // users whose presence is kept
	maxUserResources = 16   // resources kept per user
	maxCapsEntries   = 512  // verified caps vers cached
	maxDiscoInFlight = 32   // disco#info queries to devices at once
	maxDirty         = 2 * maxPresenceUsers
)

func newDevices() *devices {
	return &devices{users: map[string]*user{}, caps: map[string]features{},
		inFlight: map[string]bool{}, dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// changed marks bare for the store's writer. Called with d.mu held.
func (d *devices) changed(bare string) {
	if !d.tracking || (len(d.dirty) >= maxDirty && !d.dirty[bare]) {
		return // no store; or it lags far behind: the TTL ends what is not rewritten
	}
	d.dirty[bare] = true
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// userFor returns bare's entry, creating it (and evicting another user
// when the table is full). Called with d.mu held.
func (d *devices) userFor(bare string) *user {
	u := d.users[bare]
	if u == nil {
		if gone, ok := evictOne(d.users, maxPresenceUsers); ok {
			d.changed(gone)
		}
		u = &user{res: map[string]*device{}}
		d.users[bare] = u
	}
	return u
}

// available records that full is available with caps c (nil if it sent
// none). It returns what to ask: the node#ver of unknown verified-able
// caps, or "" with query true for a device without usable caps (its
// disco#info is asked without node); query false when nothing is to ask.
// direct reports a device whose features are known (cached) and take a
// direct session-initiate.
func (d *devices) available(full jid.JID, c *capsIn) (node string, query, direct bool) {
	node, query = d.record(full, c)
	d.mu.Lock()
	defer d.mu.Unlock()
	if dev := d.lookup(full); dev != nil && dev.feats != nil {
		direct = dev.feats.direct()
	}
	return node, query, direct
}

func (d *devices) record(full jid.JID, c *capsIn) (node string, query bool) {
	bare, res := full.Bare().String(), full.Resourcepart()
	if res == "" {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.userFor(bare)
	dev := u.res[res]
	if dev == nil {
		if _, ok := evictOne(u.res, maxUserResources); ok {
			d.changed(bare)
		}
		dev = &device{}
		u.res[res] = dev
		d.changed(bare)
	}
	dev.restored = false
	if !c.usable() {
		if dev.feats != nil || dev.ver != "" || d.inFlight[full.String()] || len(d.inFlight) >= maxDiscoInFlight {
			return "", false
		}
		d.inFlight[full.String()] = true
		return "", true
	}
	if dev.ver == c.Ver && dev.feats != nil {
		return "", false
	}
	dev.ver, dev.feats = c.Ver, nil
	d.changed(bare)
	if f, ok := d.caps[c.Ver]; ok {
		dev.feats = &f
		return "", false
	}
	if d.inFlight[c.Ver] || len(d.inFlight) >= maxDiscoInFlight {
		return "", false
	}
	d.inFlight[c.Ver] = true
	return c.Node + "#" + c.Ver, true
}

// unavailable forgets a resource (or, for a bare JID, every resource of
// the user; what is known of its subscription stays).
func (d *devices) unavailable(from jid.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	bare := from.Bare().String()
	u := d.users[bare]
	if u == nil {
		return
	}
	if from.Resourcepart() == "" {
		clear(u.res)
	} else if _, ok := u.res[from.Resourcepart()]; !ok {
		return
	} else {
		delete(u.res, from.Resourcepart())
	}
	if len(u.res) == 0 && u.via == "" {
		delete(d.users, bare)
	}
	d.changed(bare)
}

// forget drops everything known of the user bare (it cancelled the
// gateway's subscription: unsubscribed).
func (d *devices) forget(bare jid.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.users[bare.String()]; ok {
		delete(d.users, bare.String())
		d.changed(bare.String())
	}
}

// subscribed records that bare approved the subscription of the gateway
// JID via to its presence.
func (d *devices) subscribed(bare, via jid.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.userFor(bare.String())
	if u.via != via.String() {
		u.via = via.String()
		d.changed(bare.String())
	}
}

// answered records the disco#info answer (nil: none came) to the query
// about full for ver ("" for a query without node). It returns the devices
// that this answer made known as direct (fork.go may add them to a call
// in progress).
func (d *devices) answered(full jid.JID, ver string, q *discoQuery) (direct []jid.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := ver
	if ver == "" {
		key = full.String()
	}
	delete(d.inFlight, key)
	if q == nil {
		return nil
	}
	f := featuresOf(q)
	if ver != "" {
		if got, ok := verOf(q); ok && got == ver {
			evictOne(d.caps, maxCapsEntries)
			d.caps[ver] = f
			return d.applyVer(ver, f)
		}
	}
	// Unverified (or no caps): the answer holds for this device only.
	if dev := d.lookup(full); dev != nil && (ver == "" || dev.ver == ver) {
		dev.feats = &f
		d.changed(full.Bare().String())
		if f.direct() {
			return []jid.JID{full}
		}
	}
	return nil
}

// applyVer gives every device with caps ver its features and returns the
// direct ones.
func (d *devices) applyVer(ver string, f features) (direct []jid.JID) {
	for bare, u := range d.users {
		for res, dev := range u.res {
			if dev.ver != ver {
				continue
			}
			dev.feats = &f
			d.changed(bare)
			if b, err := jid.Parse(bare); err == nil && f.direct() {
				if j, err := b.WithResource(res); err == nil {
					direct = append(direct, j)
				}
			}
		}
	}
	return direct
}

func (d *devices) lookup(full jid.JID) *device {
	if u := d.users[full.Bare().String()]; u != nil {
		return u.res[full.Resourcepart()]
	}
	return nil
}

// forkTargets returns the available devices of bare that take a direct
// session-initiate (Jingle RTP, no JMI), and whether the user may also
// have devices that only JMI reaches: ones that do JMI, whose
// capabilities are not known (yet), or none known at all.
func (d *devices) forkTargets(bare jid.JID) (direct []jid.JID, jmiMaybe bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.users[bare.Bare().String()]
	if u == nil || len(u.res) == 0 {
		return nil, true
	}
	for res, dev := range u.res {
		if dev.feats == nil || !dev.feats.direct() {
			jmiMaybe = true
			continue
		}
		if j, err := bare.WithResource(res); err == nil {
			direct = append(direct, j)
		}
	}
	return direct, jmiMaybe
}

// evictOne removes an arbitrary entry from m when it holds max or more,
// and returns its key.
func evictOne[K comparable, V any](m map[K]V, max int) (gone K, ok bool) {
	if len(m) < max {
		return gone, false
	}
	for k := range m {
		delete(m, k)
		return k, true
	}
	return gone, false
}
