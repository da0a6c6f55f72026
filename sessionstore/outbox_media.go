package sessionstore

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// checkMedia refuses a Media that does not name its bytes: a SHA-256 of 64
// lower-case hex digits, a size of at least one byte, a file name and a MIME
// type. nil (a text) passes. The rules on what a file may be (its name, its
// size limit, its type) are the API's; this only keeps a message from
// naming bytes that cannot exist.
func checkMedia(md *Media) error {
	if md == nil {
		return nil
	}
	switch {
	case !isSHA256Hex(md.SHA256):
		return fmt.Errorf("file sha256 %q: want 64 lower-case hex digits: %w", md.SHA256, ErrInvalidMessage)
	case md.Size <= 0:
		return fmt.Errorf("file of %d bytes: %w", md.Size, ErrInvalidMessage)
	case md.Filename == "" || md.MimeType == "":
		return fmt.Errorf("file without a name or a type: %w", ErrInvalidMessage)
	}
	return nil
}

// isSHA256Hex tells whether s is a SHA-256 in lower-case hex.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clone returns a copy of md (nil stays nil), so that a stored message
// shares no Media with its caller.
func (md *Media) clone() *Media {
	if md == nil {
		return nil
	}
	c := *md
	return &c
}

// sameContent tells whether m, given to Enqueue with old's idempotency key,
// asks for what old is: the same recipient, text and file (bytes, name,
// type and kind). Anything else is a reuse of the key.
func sameContent(old, m Message) bool {
	if old.To != m.To || old.Text != m.Text || (old.Media == nil) != (m.Media == nil) {
		return false
	}
	return old.Media == nil || *old.Media == *m.Media
}

// ReferencedMedia returns the SHA-256 of the file of every message still in
// the outbox, whatever its state: pending ones will be sent, finished ones
// are kept until PurgeExpired removes them (IdempotencyRetention), and a
// retry with the key of one of them returns it. Bytes that no message
// names may be deleted by their store. Every tenant's messages are read:
// the media store calls it once per sweep (hourly), not per message.
func (s *Store) ReferencedMedia() (map[string]bool, error) {
	if s.pg != nil {
		return s.pg.referencedMedia()
	}
	out := map[string]bool{}
	mark := []byte(`"media":`)
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketMessages)
		return root.ForEachBucket(func(tenant []byte) error {
			return root.Bucket(tenant).ForEach(func(_, v []byte) error {
				if !bytes.Contains(v, mark) { // a text: no need to decode it
					return nil
				}
				m, err := decodeMessage(v)
				if err != nil {
					return fmt.Errorf("tenant %q: %w", tenant, err)
				}
				if m != nil && m.Media != nil {
					out[m.Media.SHA256] = true
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// referencedMedia is ReferencedMedia with PostgreSQL.
func (p *pgStore) referencedMedia() (map[string]bool, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT DISTINCT doc->'media'->>'sha256' FROM messages
		WHERE doc->'media'->>'sha256' IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			return nil, err
		}
		out[sha] = true
	}
	return out, rows.Err()
}
