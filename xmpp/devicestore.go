package xmpp

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// The devices table beyond this process. In a cluster one node holds the
// component at a time; when it dies the next holder would know no device
// without JMI until each sent presence again. With a DeviceStore (the
// cluster's state store) the adapter mirrors every user's entry (the
// gateway JID the user's subscription was approved for, and per available
// resource its caps ver and known features) as it changes, writes every
// entry again every refresh interval (the store's entries expire), and
// whenever its stream comes up it loads the store, replacing what it held
// (except users changed since their last write), and probes the presence
// of the users known as subscribed (<presence type='probe'/> from that
// gateway JID; their server answers with every available resource, an
// unavailable presence if none, or unsubscribed if the subscription is
// gone). A restored device of a probed user that no answer confirms
// within probeWait is dropped. A restored device of a user who only sent
// directed presence cannot be checked; if it went away meanwhile, a call
// forks to it and that branch fails (service-unavailable), the others go
// on, and the device is forgotten.

// DeviceStore keeps small values beyond this process: cluster.StateStore.
// Keys are bare JIDs of at most maxStoredKey bytes; values are JSON of at
// most maxStoredUser bytes. Every method must return within ctx.
type DeviceStore interface {
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Load(ctx context.Context) (map[string][]byte, error)
}

const (
	maxStoredKey      = 256      // longer bare JIDs are not mirrored
	maxStoredResource = 256      // longer resources are not mirrored
	maxStoredUser     = 16 << 10 // bytes of one user's value
	storeTimeout      = 5 * time.Second
	storeRetry        = time.Second
	maxProbeWait      = 5 * time.Second
	storedVersion     = 1
)

// SetDeviceStore makes the adapter mirror its devices table into s and
// load it whenever its stream comes up; refresh is how often every entry
// is written again (below the store's TTL). Call it before Run. Without
// it (no cluster) the table lives in this process only.
func (a *Adapter) SetDeviceStore(s DeviceStore, refresh time.Duration) {
	if refresh <= 0 {
		refresh = 20 * time.Minute
	}
	a.store, a.storeRefresh = s, refresh
	a.devices.mu.Lock()
	a.devices.tracking = true
	a.devices.mu.Unlock()
}

// storedUser is one user's value in the store.
type storedUser struct {
	V   int            `json:"v"`
	Via string         `json:"via,omitempty"`
	Dev []storedDevice `json:"dev,omitempty"`
}

type storedDevice struct {
	Res   string       `json:"res"`
	Ver   string       `json:"ver,omitempty"`
	Feats *storedFeats `json:"feats,omitempty"` // nil: not known yet
}

type storedFeats struct {
	Jingle bool `json:"jingle,omitempty"`
	RTP    bool `json:"rtp,omitempty"`
	JMI    bool `json:"jmi,omitempty"`
}

// encode returns u's value, or nil when it is not to be stored.
func (u *user) encode() []byte {
	s := storedUser{V: storedVersion, Via: u.via}
	for res, dev := range u.res {
		if len(res) > maxStoredResource {
			continue
		}
		sd := storedDevice{Res: res, Ver: dev.ver}
		if f := dev.feats; f != nil {
			sd.Feats = &storedFeats{Jingle: f.jingle, RTP: f.rtp, JMI: f.jmi}
		}
		s.Dev = append(s.Dev, sd)
	}
	if s.Via == "" && len(s.Dev) == 0 {
		return nil
	}
	slices.SortFunc(s.Dev, func(x, y storedDevice) int { return strings.Compare(x.Res, y.Res) })
	b, err := json.Marshal(s)
	if err != nil || len(b) > maxStoredUser {
		return nil
	}
	return b
}

// decodeUser validates a stored value: NATS is inside the trust
// boundary, but what comes from it is still bounded input.
func (a *Adapter) decodeUser(key string, value []byte) (*user, bool) {
	if len(key) > maxStoredKey || len(value) > maxStoredUser {
		return nil, false
	}
	bare, err := jid.Parse(key)
	if err != nil || bare.Resourcepart() != "" || bare.Localpart() == "" || bare.String() != key || a.ours(bare) {
		return nil, false
	}
	var s storedUser
	if err := json.Unmarshal(value, &s); err != nil || s.V != storedVersion || len(s.Dev) > maxUserResources {
		return nil, false
	}
	u := &user{res: map[string]*device{}}
	if s.Via != "" {
		via, err := jid.Parse(s.Via)
		if err != nil || via.Resourcepart() != "" || via.Localpart() == "" || !a.ours(via) {
			return nil, false
		}
		u.via = via.String()
	}
	for _, d := range s.Dev {
		if _, dup := u.res[d.Res]; dup || d.Res == "" || len(d.Res) > maxStoredResource ||
			len(d.Ver) > maxCapsVer || strings.ContainsRune(d.Ver, 0) {
			return nil, false
		}
		if _, err := bare.WithResource(d.Res); err != nil {
			return nil, false
		}
		dev := &device{ver: d.Ver, restored: true}
		if f := d.Feats; f != nil {
			dev.feats = &features{jingle: f.Jingle, rtp: f.RTP, jmi: f.JMI}
		}
		u.res[d.Res] = dev
	}
	if u.via == "" && len(u.res) == 0 {
		return nil, false
	}
	return u, true
}

// takeDirty returns the values to write and the keys to delete, and
// clears the dirty set. Nothing while the store is being loaded.
func (d *devices) takeDirty() (puts map[string][]byte, dels []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loading || len(d.dirty) == 0 {
		return nil, nil
	}
	puts = map[string][]byte{}
	for bare := range d.dirty {
		if len(bare) > maxStoredKey {
			continue
		}
		var v []byte
		if u := d.users[bare]; u != nil {
			v = u.encode()
		}
		if v != nil {
			puts[bare] = v
		} else {
			dels = append(dels, bare)
		}
	}
	clear(d.dirty)
	return puts, dels
}

// markDirty marks keys again (their write failed), or every user (the
// periodic rewrite) when keys is nil.
func (d *devices) markDirty(keys []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if keys == nil {
		for bare := range d.users {
			d.changed(bare)
		}
		return
	}
	for _, k := range keys {
		d.changed(k)
	}
}

// forgetDirty drops the marks of changes not written.
func (d *devices) forgetDirty() {
	d.mu.Lock()
	clear(d.dirty)
	d.mu.Unlock()
}

// restore replaces the table with the stored users, keeping the local
// entries changed since their last write, and returns the users known as
// subscribed (to probe).
func (d *devices) restore(stored map[string]*user) (probe map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := make(map[string]*user, len(stored))
	for bare, u := range d.users {
		if d.dirty[bare] {
			next[bare] = u
		}
	}
	probe = map[string]string{}
	for bare, u := range stored {
		if len(next) >= maxPresenceUsers {
			break
		}
		if d.dirty[bare] {
			continue
		}
		next[bare] = u
		if u.via != "" {
			probe[bare] = u.via
		}
	}
	d.users = next
	d.loading = false
	return probe
}

// dropRestored drops the restored devices of the users in bares that no
// presence confirmed.
func (d *devices) dropRestored(bares []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, bare := range bares {
		u := d.users[bare]
		if u == nil {
			continue
		}
		for res, dev := range u.res {
			if dev.restored {
				delete(u.res, res)
				d.changed(bare)
			}
		}
		if len(u.res) == 0 && u.via == "" {
			delete(d.users, bare)
		}
	}
}

// setLoading holds the writer back until restore (or a failed load).
func (d *devices) setLoading(on bool) {
	d.mu.Lock()
	d.loading = on
	d.mu.Unlock()
	if !on {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// writeDevices mirrors the dirty users into the store until ctx ends.
func (a *Adapter) writeDevices(ctx context.Context) {
	refresh := time.NewTicker(a.storeRefresh)
	defer refresh.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.devices.wake:
		case <-retry.C:
		case <-refresh.C:
			if a.Connected() {
				a.devices.markDirty(nil)
			}
			continue // the mark wakes the loop
		}
		if failed := a.flushDevices(ctx); len(failed) > 0 {
			a.devices.markDirty(failed)
			retry.Reset(storeRetry)
		}
	}
}

// flushDevices writes what changed; it returns the keys whose write
// failed.
func (a *Adapter) flushDevices(ctx context.Context) (failed []string) {
	puts, dels := a.devices.takeDirty()
	var firstErr error
	write := func(key string, op func(context.Context) error) {
		if len(failed) > 0 { // the store is failing: keep the rest for the retry
			failed = append(failed, key)
			return
		}
		wctx, cancel := context.WithTimeout(ctx, storeTimeout)
		defer cancel()
		if err := op(wctx); err != nil {
			failed, firstErr = append(failed, key), err
		}
	}
	for key, v := range puts {
		write(key, func(c context.Context) error { return a.store.Put(c, key, v) })
	}
	for _, key := range dels {
		write(key, func(c context.Context) error { return a.store.Delete(c, key) })
	}
	if firstErr != nil && ctx.Err() == nil {
		a.log.Warn("devices table not mirrored to the cluster store; retrying", "users", len(failed), "err", firstErr)
	}
	return failed
}

// restoreDevices loads the store into the table once the stream st is
// up, probes the users known as subscribed, and drops their restored
// devices that no answer confirmed.
func (a *Adapter) restoreDevices(ctx context.Context, st *stream) {
	lctx, cancel := context.WithTimeout(ctx, storeTimeout)
	raw, err := a.store.Load(lctx)
	cancel()
	if err != nil {
		a.devices.setLoading(false)
		a.log.Warn("devices table not loaded from the cluster store: devices without JMI are reachable once they send presence again", "err", err)
		return
	}
	stored := make(map[string]*user, len(raw))
	for k, v := range raw {
		if u, ok := a.decodeUser(k, v); ok {
			stored[k] = u
		}
	}
	probe := a.devices.restore(stored)
	a.log.Info("devices table loaded from the cluster store", "users", len(stored), "refused", len(raw)-len(stored),
		"probed", len(probe))
	a.devices.setLoading(false)
	if !a.cfg.ComponentMode() || len(probe) == 0 {
		return // a client's server sends its contacts' presence at login
	}
	var probed []string
	for bare, via := range probe {
		to, err1 := jid.Parse(bare)
		from, err2 := jid.Parse(via)
		if err1 != nil || err2 != nil {
			continue
		}
		p := stanza.Presence{From: from, To: to, Type: stanza.ProbePresence}.Wrap(nil)
		if err := st.send(ctx, p, "presence-probe"); err != nil {
			break
		}
		probed = append(probed, bare)
	}
	t := time.NewTimer(min(a.cfg.IQTimeout, maxProbeWait))
	defer t.Stop()
	select {
	case <-t.C:
		a.devices.dropRestored(probed)
	case <-st.done:
	case <-ctx.Done():
	}
}
