package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A StateStore keeps what an adapter must hand to the node that takes
// over from it: the XMPP component's devices table (which devices of which
// users take Jingle without JMI, who is subscribed), so that the next
// holder of the component knows them after a kill -9 of the last one.
// Unlike registry entries, state entries are not tied to the writing
// node's liveness: they outlive it, until they are overwritten, deleted or
// expire. It is a JetStream KV bucket of its own,
// "<prefix>-state-<name>" (file storage, one revision per key), bounded in
// every direction: values of at most MaxValue bytes, at most about
// MaxEntries of them (the bucket's byte limit; a full bucket refuses new
// keys), and every entry expires TTL after its last write (the writer
// rewrites what it still holds more often than that). Reads are bounded
// too (Load skips values too large and stops at MaxEntries): NATS is
// inside the trust boundary, but the caller validates every value anyway.

// StateConfig bounds a StateStore.
type StateConfig struct {
	// TTL: an entry not written again for this long expires.
	TTL time.Duration
	// MaxValue is the largest value in bytes.
	MaxValue int
	// MaxEntries is about how many entries the bucket holds.
	MaxEntries int
}

// Defaults of StateConfig.
const (
	DefaultStateTTL        = time.Hour
	DefaultStateMaxValue   = 8 << 10
	DefaultStateMaxEntries = 4096
	// stateEntryOverhead is what JetStream adds to a value (subject,
	// headers, sequence and time) in the byte limit.
	stateEntryOverhead = 512
)

var stateNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// StateStore is a shared store of small values; see StateConfig. Safe for
// concurrent use. Its methods fail with ErrUnavailable while NATS is not
// reachable.
type StateStore struct {
	n      *Node
	bucket string
	cfg    StateConfig
	mu     sync.Mutex
	kv     jetstream.KeyValue // nil until opened, and again after an error
}

// StateStore returns the state store name ([A-Za-z0-9_-]{1,32}); zero
// fields of cfg take the defaults. The bucket is created on first use.
func (n *Node) StateStore(name string, cfg StateConfig) (*StateStore, error) {
	if !stateNameRE.MatchString(name) {
		return nil, fmt.Errorf("cluster: bad state store name %q", name)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultStateTTL
	}
	if cfg.MaxValue <= 0 {
		cfg.MaxValue = DefaultStateMaxValue
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultStateMaxEntries
	}
	return &StateStore{n: n, bucket: n.cfg.Prefix + "-state-" + name, cfg: cfg}, nil
}

// Bucket is the name of the store's KV bucket.
func (s *StateStore) Bucket() string { return s.bucket }

// TTL is how long an entry lives after its last write.
func (s *StateStore) TTL() time.Duration { return s.cfg.TTL }

// open returns the bucket, creating it (or updating its limits) on first
// use and after an error.
func (s *StateStore) open(ctx context.Context) (jetstream.KeyValue, error) {
	if s.n.closed.Load() || !s.n.nc.IsConnected() {
		return nil, ErrUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: s.bucket, Description: "sigbridge cluster state", History: 1,
		TTL: s.cfg.TTL, MaxValueSize: int32(s.cfg.MaxValue), // #nosec G115 -- bounded by the caller's config
		MaxBytes: int64(s.cfg.MaxEntries) * int64(s.cfg.MaxValue+stateEntryOverhead),
		Storage:  jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: bucket %s: %w", ErrUnavailable, s.bucket, err)
	}
	s.kv = kv
	return kv, nil
}

// failed forgets the bucket after an error, so the next operation opens
// it again (a NATS restart may have lost it).
func (s *StateStore) failed(kv jetstream.KeyValue) {
	s.mu.Lock()
	if s.kv == kv {
		s.kv = nil
	}
	s.mu.Unlock()
}

func stateKey(key string) (string, error) {
	if key == "" || len(key) > maxKeyLen {
		return "", fmt.Errorf("cluster: bad state key of %d bytes", len(key))
	}
	return hex.EncodeToString([]byte(key)), nil
}

// Put writes value under key (any string of 1 to 256 bytes).
func (s *StateStore) Put(ctx context.Context, key string, value []byte) error {
	k, err := stateKey(key)
	if err != nil {
		return err
	}
	if len(value) > s.cfg.MaxValue {
		return fmt.Errorf("cluster: state value of %d bytes, at most %d", len(value), s.cfg.MaxValue)
	}
	kv, err := s.open(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, k, value); err != nil {
		s.failed(kv)
		return fmt.Errorf("%w: state put: %w", ErrUnavailable, err)
	}
	return nil
}

// Delete removes key; a key that is not there is no error.
func (s *StateStore) Delete(ctx context.Context, key string) error {
	k, err := stateKey(key)
	if err != nil {
		return err
	}
	kv, err := s.open(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		s.failed(kv)
		return fmt.Errorf("%w: state delete: %w", ErrUnavailable, err)
	}
	return nil
}

// Load returns every entry (at most MaxEntries; values larger than
// MaxValue and keys that do not decode are skipped). ctx bounds it.
func (s *StateStore) Load(ctx context.Context) (map[string][]byte, error) {
	kv, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		s.failed(kv)
		return nil, fmt.Errorf("%w: state load: %w", ErrUnavailable, err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: state load: %w", ErrUnavailable, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%w: state load: watch ended", ErrUnavailable)
			}
			if e == nil { // every current value delivered
				return out, nil
			}
			if e.Operation() != jetstream.KeyValuePut || len(e.Value()) > s.cfg.MaxValue || len(out) >= s.cfg.MaxEntries {
				continue
			}
			b, err := hex.DecodeString(e.Key())
			if err != nil || len(b) == 0 || len(b) > maxKeyLen {
				continue
			}
			out[string(b)] = e.Value()
		}
	}
}
