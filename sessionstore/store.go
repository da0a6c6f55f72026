package sessionstore

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Defaults of the zero Options fields.
const (
	DefaultIdempotencyRetention = 7 * 24 * time.Hour
	DefaultQueueLimit           = 1000
	DefaultLockTimeout          = 500 * time.Millisecond
	// DBFileName is the bbolt file inside DataDir.
	DBFileName = "wapool.db"
)

// Bucket names. Keys: tenants: id; messages/<tenant>: seq (8 bytes
// big-endian); pending/<tenant>: seq of each QUEUED or SENDING message;
// idempotency: tenant "\x00" key → seq; msgids: tenant "\x00" message id → seq;
// waids: tenant "\x00" WhatsApp message id (Message.WAMessageID) → seq.
// events: seq (8 bytes big-endian) → Event (the event log, events.go);
// eventmeta: the log id and the newest purged seq; consumers: consumer name
// → the seq it reached (the webhook's delivered position); deadevents:
// consumer name → seq → DeadEvent (the dead-letter lists, deadevents.go);
// leases: tenant → Lease (leases.go); nodes: node id → Node (nodes.go).
var (
	bucketTenants     = []byte("tenants")
	bucketMessages    = []byte("messages")
	bucketPending     = []byte("pending")
	bucketIdempotency = []byte("idempotency")
	bucketMsgIDs      = []byte("msgids")
	// bucketWAIDs indexes messages by the WAKey of their WAMessageID; it
	// replaced "waids" (bucketWAIDsV1), keyed by the whole id.
	bucketWAIDs     = []byte("waidkeys")
	bucketWAIDsV1   = []byte("waids")
	bucketEvents    = []byte("events")
	bucketEventMeta = []byte("eventmeta")
	bucketConsumers = []byte("consumers")
	bucketLeases    = []byte("leases")
	bucketNodes     = []byte("nodes")
)

// Options configure a Store. Only DataDir is required.
type Options struct {
	// URL selects where the metadata lives (tenants, the outbox, the event
	// log, consumer positions, leases, nodes). "" means the local bbolt
	// file DataDir/wapool.db; postgres://… or postgresql://… a PostgreSQL
	// database (pgx connection string: host, user, password, dbname,
	// sslmode and the pool_* parameters), shared by the nodes of a
	// cluster. Any other scheme fails Open. Profiles, caches and tmp dirs
	// stay local under DataDir either way.
	URL string
	// NodeID names this daemon in a cluster: the holder of the leases it
	// takes and its row in the nodes table. "" (the default) means a single
	// node: no fencing, and the lease and node methods fail. With a NodeID,
	// the supervisor's outbox writes are fenced by the tenant's lease (see
	// the package doc).
	NodeID string
	// DataDir holds wapool.db, cache/ and tmp/ (and profiles/ unless
	// ProfilesDir is set). Required, also with a PostgreSQL URL. Created
	// with mode 0700 when missing; Open fails with ErrInsecureDir when it
	// exists and is world-writable. A relative path is made absolute at
	// Open.
	DataDir string
	// ProfilesDir holds one Chrome user-data-dir per tenant. "" means
	// DataDir/profiles. It may be an existing Selenium-era chrome_data/ whose
	// <user_id>/ dirs are Chrome profiles: they are used in place (see
	// DiscoverProfiles). Created 0700 when missing; refused when world-writable.
	ProfilesDir string
	// IdempotencyRetention is how long after its creation a finished message
	// and its idempotency key are kept. 0 means DefaultIdempotencyRetention
	// (7 days). Pending messages are never expired.
	IdempotencyRetention time.Duration
	// QueueLimit is the most pending (QUEUED+SENDING) messages per tenant.
	// 0 means DefaultQueueLimit (1000).
	QueueLimit int
	// LockTimeout is how long Open waits for the exclusive lock of wapool.db
	// held by another Store (another daemon). 0 means DefaultLockTimeout
	// (500ms). Unused with PostgreSQL.
	LockTimeout time.Duration
	// Now is the clock of message and event timestamps and retention. nil
	// means time.Now; tests inject their own. Leases and node heartbeats
	// use the database's clock with PostgreSQL (this clock with bbolt).
	Now func() time.Time
}

// Store is the state of all tenants. Open one per daemon; it is safe for
// concurrent use.
type Store struct {
	// Exactly one of db and pg is set, at Open: the metadata lives in the
	// local bbolt file (db) or in PostgreSQL (pg). Every metadata method
	// branches on pg; profile dirs and locks are local either way.
	db *bolt.DB
	pg *pgStore
	// boltShared: db belongs to another Store (a test peer); Close leaves it.
	boltShared bool

	nodeID      string
	dataDir     string
	profilesDir string
	retention   time.Duration
	queueLimit  int
	now         func() time.Time

	// mu guards the fields that follow.
	mu sync.Mutex
	// held: the profile locks this Store holds, by tenant id.
	held map[string]*ProfileLock
	// fences: the lease epoch this Store holds per tenant (leases.go).
	fences map[string]uint64

	// The event log (events.go). segs is set at Open, then read-only
	// (oldest first; the last is the one this Store appends to). evMu is
	// held across each event-appending write and the publication of its
	// events to hub, so subscribers get them in log order; it is taken
	// before hub.mu.
	segs []logSegment
	evMu sync.Mutex
	hub  eventHub
}

// Open opens (creating when missing) the store under opts.DataDir, its
// metadata in the local bbolt file or, with a postgres:// URL, in
// PostgreSQL. A second Open of the same bbolt database, from this process or
// another, fails after opts.LockTimeout with an error wrapping ErrLocked:
// bbolt takes flock(2) on wapool.db, and flock conflicts between open file
// descriptions even inside one process. Any number of Stores (nodes) may
// open one PostgreSQL database; Open brings its schema up to date first.
func Open(opts Options) (*Store, error) {
	if opts.DataDir == "" {
		return nil, errors.New("sessionstore: Options.DataDir is required")
	}
	if opts.IdempotencyRetention < 0 || opts.QueueLimit < 0 || opts.LockTimeout < 0 {
		return nil, errors.New("sessionstore: negative IdempotencyRetention, QueueLimit or LockTimeout")
	}
	usePG, err := storeKind(opts.URL)
	if err != nil {
		return nil, err
	}
	s := &Store{
		nodeID:     opts.NodeID,
		retention:  opts.IdempotencyRetention,
		queueLimit: opts.QueueLimit,
		now:        opts.Now,
		held:       make(map[string]*ProfileLock),
		fences:     make(map[string]uint64),
	}
	if s.retention == 0 {
		s.retention = DefaultIdempotencyRetention
	}
	if s.queueLimit == 0 {
		s.queueLimit = DefaultQueueLimit
	}
	if s.now == nil {
		s.now = time.Now
	}
	lockTimeout := opts.LockTimeout
	if lockTimeout == 0 {
		lockTimeout = DefaultLockTimeout
	}

	if s.dataDir, err = filepath.Abs(opts.DataDir); err != nil {
		return nil, fmt.Errorf("sessionstore: data dir: %w", err)
	}
	s.profilesDir = filepath.Join(s.dataDir, "profiles")
	if opts.ProfilesDir != "" {
		if s.profilesDir, err = filepath.Abs(opts.ProfilesDir); err != nil {
			return nil, fmt.Errorf("sessionstore: profiles dir: %w", err)
		}
	}
	for _, dir := range []string{s.dataDir, s.profilesDir} {
		if err := ensureSharedDir(dir); err != nil {
			return nil, err
		}
	}
	if usePG {
		if s.pg, err = openPG(opts.URL, s); err != nil {
			return nil, err
		}
		s.segs = []logSegment{{Start: 1, ID: s.pg.logID}}
		return s, nil
	}

	path := filepath.Join(s.dataDir, DBFileName)
	// Durability: NoSync is left false (bbolt's default), so every Update
	// commits with fsync before it returns. The outbox relies on it: Enqueue's
	// message and UpdateMessage's Clicked mark must be on disk before the
	// caller acts on them. FreelistMapType only changes the in-memory freelist.
	s.db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("sessionstore: database %s is held by another wapool store (lock timeout %s): %w", path, lockTimeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("sessionstore: open %s: %w", path, err)
	}
	// bbolt creates the file 0600; an existing one keeps its mode, so tighten it.
	if err := tightenMode(path, 0o600); err != nil {
		s.db.Close()
		return nil, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTenants, bucketMessages, bucketPending, bucketIdempotency, bucketMsgIDs, bucketLeases, bucketNodes, bucketSnapshots} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if s.segs, err = initEventLog(tx); err != nil {
			return err
		}
		if tx.Bucket(bucketWAIDsV1) != nil {
			if err := tx.DeleteBucket(bucketWAIDsV1); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketWAIDs) != nil {
			return nil
		}
		// A database from before the index by WAKey (or a new one): build
		// the index once from the stored messages.
		waids, err := tx.CreateBucket(bucketWAIDs)
		if err != nil {
			return err
		}
		return buildWAIDIndex(tx, waids)
	})
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("sessionstore: init %s: %w", path, err)
	}
	return s, nil
}

// storeKind checks Options.URL: false for "" (bbolt), true for a
// postgres:// or postgresql:// URL. The URL itself is never quoted in an
// error: it may hold a password.
func storeKind(storeURL string) (pg bool, err error) {
	if storeURL == "" {
		return false, nil
	}
	scheme, _, ok := strings.Cut(storeURL, "://")
	if u, perr := url.Parse(storeURL); perr == nil {
		scheme, ok = u.Scheme, u.Scheme != ""
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return true, nil
	}
	if !ok {
		return false, errors.New(`sessionstore: Options.URL is not a URL: want "" (the local bbolt file) or postgres://…`)
	}
	return false, fmt.Errorf(`sessionstore: Options.URL scheme %q is not supported: want "" (the local bbolt file) or postgres://…`, scheme)
}

// Close closes the database (with PostgreSQL: stops the event listener and
// closes the connection pool). Profile locks stay with their owners.
func (s *Store) Close() error {
	if s.pg != nil {
		return s.pg.close()
	}
	if s.boltShared {
		return nil
	}
	return s.db.Close()
}

// NodeID returns Options.NodeID: "" on a single node.
func (s *Store) NodeID() string { return s.nodeID }

// DataDir returns the absolute data directory.
func (s *Store) DataDir() string { return s.dataDir }

// ProfilesDir returns the absolute directory holding the tenant profiles.
func (s *Store) ProfilesDir() string { return s.profilesDir }

// clock reads Options.Now in UTC without the monotonic reading, so a time
// returned by a method equals the same time read back from the database.
func (s *Store) clock() time.Time { return s.now().Round(0).UTC() }

// ensureSharedDir creates dir 0700 (with its parents) when missing and
// refuses it when it exists world-writable or is not a directory.
func ensureSharedDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("sessionstore: create %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("sessionstore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sessionstore: %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("sessionstore: %s has mode %s, anyone may write there; chmod o-w it: %w", dir, fi.Mode().Perm(), ErrInsecureDir)
	}
	return nil
}

// tightenMode removes the group and other bits beyond perm from path.
func tightenMode(path string, perm os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sessionstore: %w", err)
	}
	if fi.Mode().Perm()&^perm != 0 {
		if err := os.Chmod(path, fi.Mode().Perm()&perm); err != nil {
			return fmt.Errorf("sessionstore: %w", err)
		}
	}
	return nil
}
