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
// presence drops its resource at once. Safe for concurrent use.
type devices struct {
	mu       sync.Mutex
	users    map[string]map[string]*device // bare JID -> resource -> device
	caps     map[string]features           // verified sha-1 ver -> features
	inFlight map[string]bool               // vers (or full JIDs) with a disco#info query out
}

// device is one available resource.
type device struct {
	ver   string    // its caps ver, if it sent usable caps
	feats *features // what it can do, once known
}

// Bounds of the tables (README "Limits").
const (
	maxPresenceUsers = 4096 // users whose presence is kept
	maxUserResources = 16   // resources kept per user
	maxCapsEntries   = 512  // verified caps vers cached
	maxDiscoInFlight = 32   // disco#info queries to devices at once
)

func newDevices() *devices {
	return &devices{users: map[string]map[string]*device{}, caps: map[string]features{},
		inFlight: map[string]bool{}}
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
	rs := d.users[bare]
	if rs == nil {
		evictOne(d.users, maxPresenceUsers)
		rs = map[string]*device{}
		d.users[bare] = rs
	}
	dev := rs[res]
	if dev == nil {
		evictOne(rs, maxUserResources)
		dev = &device{}
		rs[res] = dev
	}
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

// unavailable forgets a resource (or, for a bare JID, the whole user).
func (d *devices) unavailable(from jid.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	bare := from.Bare().String()
	if from.Resourcepart() == "" {
		delete(d.users, bare)
		return
	}
	if rs := d.users[bare]; rs != nil {
		delete(rs, from.Resourcepart())
		if len(rs) == 0 {
			delete(d.users, bare)
		}
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
		if f.direct() {
			return []jid.JID{full}
		}
	}
	return nil
}

// applyVer gives every device with caps ver its features and returns the
// direct ones.
func (d *devices) applyVer(ver string, f features) (direct []jid.JID) {
	for bare, rs := range d.users {
		for res, dev := range rs {
			if dev.ver != ver {
				continue
			}
			dev.feats = &f
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
	if rs := d.users[full.Bare().String()]; rs != nil {
		return rs[full.Resourcepart()]
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
	rs := d.users[bare.Bare().String()]
	if len(rs) == 0 {
		return nil, true
	}
	for res, dev := range rs {
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

// evictOne removes an arbitrary entry from m when it holds max or more.
func evictOne[K comparable, V any](m map[K]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}
