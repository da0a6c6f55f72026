package sessionstore

import (
	"encoding/binary"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Test hooks into the raw database, for the external tests of this package.

// DropWAIDIndex deletes the waids bucket: the database gets the layout it had
// before the index existed. Close the store right after; its methods expect
// the bucket.
func DropWAIDIndex(s *Store) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketWAIDs) })
}

// WAIDIndex returns the raw waids bucket as "tenant/waID" → seq.
func WAIDIndex(s *Store) (map[string]uint64, error) {
	idx := make(map[string]uint64)
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
