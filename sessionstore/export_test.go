package sessionstore

import (
	"encoding/binary"
	"strings"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
)

// Test hooks into the raw database, for the external tests of this package.

// DropWAIDIndex deletes the waids bucket: the database gets the layout it had
// before the index existed. Close the store right after; its methods expect
// the bucket.
func DropWAIDIndex(s *Store) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketWAIDs) })
}

// WAIDIndex returns the raw waids bucket as "tenant/waID" → seq (with
// PostgreSQL: the wa_id column of the messages).
func WAIDIndex(s *Store) (map[string]uint64, error) {
	idx := make(map[string]uint64)
	if s.pg != nil {
		ctx, cancel := s.pg.ctx()
		defer cancel()
		rows, err := s.pg.pool.Query(ctx, `SELECT tenant_id, wa_id, seq FROM messages WHERE wa_id <> ''`)
		if err != nil {
			return nil, err
		}
		var tenant string
		var waID []byte
		var seq uint64
		_, err = pgx.ForEachRow(rows, []any{&tenant, &waID, &seq}, func() error {
			idx[tenant+"/"+string(waID)] = seq
			return nil
		})
		return idx, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWAIDs).ForEach(func(k, v []byte) error {
			idx[strings.Replace(string(k), "\x00", "/", 1)] = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return idx, err
}

// SetWAIDRaw sets the stored message's WAMessageID without touching the
// index, as a database written before the index could hold it.
func SetWAIDRaw(s *Store, tenantID, id, waID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		msgs, m, err := lookupMessage(tx, tenantID, id)
		if err != nil {
			return err
		}
		m.WAMessageID = waID
		return putMessage(msgs, *m)
	})
}

// Peer returns a Store of another node on s's bbolt database, which one
// process cannot open twice: the same database, dirs and clock, its own
// NodeID, fences and subscribers. Closing it leaves the database open.
func Peer(s *Store, nodeID string) *Store {
	return &Store{
		db:          s.db,
		boltShared:  true,
		nodeID:      nodeID,
		dataDir:     s.dataDir,
		profilesDir: s.profilesDir,
		retention:   s.retention,
		queueLimit:  s.queueLimit,
		now:         s.now,
		held:        make(map[string]*ProfileLock),
		fences:      make(map[string]uint64),
		segs:        s.segs,
	}
}

// IsPostgres reports whether s keeps its metadata in PostgreSQL.
func IsPostgres(s *Store) bool { return s.pg != nil }

// DisableNotify makes s append events without NOTIFY: other Stores see them
// only by polling. Call it before s writes.
func DisableNotify(s *Store) { s.pg.noNotify = true }

// HoldMainPool takes every connection of a PostgreSQL Store's main pool
// (sends and polls all busy) until release.
func HoldMainPool(s *Store) (release func(), err error) {
	ctx, cancel := s.pg.ctx()
	defer cancel()
	var conns []interface{ Release() }
	for range s.pg.pool.Config().MaxConns {
		c, err := s.pg.pool.Acquire(ctx)
		if err != nil {
			for _, c := range conns {
				c.Release()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return func() {
		for _, c := range conns {
			c.Release()
		}
	}, nil
}

// SetPurgeBatch makes PurgeEvents delete at most n events a transaction
// until the test ends.
func SetPurgeBatch(t interface{ Cleanup(func()) }, n int) {
	old := purgeBatch
	purgeBatch = n
	t.Cleanup(func() { purgeBatch = old })
}
