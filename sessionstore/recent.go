package sessionstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// RecentMessages returns up to limit of the tenant's newest messages, newest
// first (by Seq), in every state, for people who watch a tenant (the web
// console). Text and Noted are left out: what a message says is customers'
// data and never leaves the outbox for display. An unknown tenant has no
// messages; limit <= 0 returns none. It is read-only (one read transaction).
func (s *Store) RecentMessages(tenantID string, limit int) ([]Message, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	if s.pg != nil {
		return s.pg.recentMessages(tenantID, limit)
	}
	var out []Message
	err := s.db.View(func(tx *bolt.Tx) error {
		msgs := tx.Bucket(bucketMessages).Bucket([]byte(tenantID))
		if msgs == nil {
			return nil
		}
		c := msgs.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			m, err := decodeMessage(v)
			if err != nil {
				return fmt.Errorf("tenant %q: %w", tenantID, err)
			}
			if m == nil {
				continue
			}
			m.Text, m.Noted = "", nil
			out = append(out, *m)
		}
		return nil
	})
	return out, err
}
