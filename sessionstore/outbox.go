package sessionstore

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxIdempotencyKeyLen is the longest idempotency key Enqueue accepts, in bytes.
const MaxIdempotencyKeyLen = 256

// MessageState is where a message is in its life; the zero value is unknown.
type MessageState int

// Message states, in lifecycle order (see the package doc).
const (
	StateQueued  MessageState = iota + 1 // durable, waiting for its turn
	StateSending                         // an attempt is under way (StartedAt)
	StateSent                            // the server acknowledged it (single tick)
	StateFailed                          // gave up; Error and ErrorReason say why
)

func (st MessageState) String() string {
	switch st {
	case StateQueued:
		return "QUEUED"
	case StateSending:
		return "SENDING"
	case StateSent:
		return "SENT"
	case StateFailed:
		return "FAILED"
	}
	return fmt.Sprintf("MessageState(%d)", int(st))
}

// Pending reports whether the message still waits to be sent (QUEUED or SENDING).
func (st MessageState) Pending() bool { return st == StateQueued || st == StateSending }

// Finished reports whether the message reached SENT or FAILED.
func (st MessageState) Finished() bool { return st == StateSent || st == StateFailed }

// Message is one outgoing text of a tenant, as stored in the outbox. Within
// a tenant no two messages carry the same non-empty WAMessageID: UpdateMessage
// refuses an id another message holds with ErrWAIDClaimed.
type Message struct {
	// ID is the server id: 16 hex digits of the creation time in unix
	// nanoseconds then 8 random hex digits, so ids sort by creation.
	ID             string       `json:"id"`
	TenantID       string       `json:"tenant_id"`
	To             string       `json:"to"` // recipient, digits
	Text           string       `json:"text"`
	IdempotencyKey string       `json:"idempotency_key,omitempty"`
	State          MessageState `json:"state"`
	WAMessageID    string       `json:"wa_message_id,omitempty"` // the bubble's data-id once known; unique in the tenant (MessageByWAID)
	CreatedAt      time.Time    `json:"created_at"`
	StartedAt      time.Time    `json:"started_at,omitzero"` // when the latest SENDING attempt began
	SentAt         time.Time    `json:"sent_at,omitzero"`
	UpdatedAt      time.Time    `json:"updated_at"`
	Attempts       int          `json:"attempts,omitempty"`
	Error          string       `json:"error,omitempty"`
	ErrorReason    string       `json:"error_reason,omitempty"` // e.g. "RECIPIENT_NOT_ON_WHATSAPP"
	Seq            uint64       `json:"seq"`                    // FIFO order within the tenant

	// Clicked is set, with Noted, by an attempt just before it clicks send:
	// from then on the message may be out, even if the attempt failed or the
	// daemon died before it saw the bubble. false means no attempt ever
	// reached the click, so nothing can have gone out and a retry sends
	// again at once; true means a retry must first look for the message in
	// the chat (see DESIGN.md, "Sends: exactly once"). The store never sets
	// or clears it; UpdateMessage commits it with fsync before returning.
	Clicked bool `json:"clicked,omitempty"`
	// ClickedAt is when Clicked was last set: a profile restored from a
	// snapshot taken before it cannot show that click (the supervisor's
	// Restored). Zero when Clicked is false, or for a mark written before
	// the field existed.
	ClickedAt time.Time `json:"clicked_at,omitzero"`
	// Noted holds the data-ids of the chat's outgoing bubbles noted just
	// before that click: a bubble found later belongs to this message only
	// if it is not among them. nil when Clicked is false or when the chat
	// showed no outgoing bubble (UpdateMessage stores an empty list as nil).
	Noted []string `json:"noted,omitempty"`
	// Media is the file the message carries, nil for a text; Text is then
	// its caption and may be empty. The bytes are stored apart, named by
	// Media.SHA256 (see the media store).
	Media *Media `json:"media,omitempty"`
}

// Media describes a message's file (DESIGN.md fact 19). The bytes are not
// in the outbox: they are stored by their SHA-256.
type Media struct {
	Filename   string `json:"filename"`              // the name the recipient sees, no path
	MimeType   string `json:"mime_type"`             // sniffed from the bytes, not taken from the caller
	Size       int64  `json:"size"`                  // bytes
	SHA256     string `json:"sha256"`                // lower-case hex of the bytes; names them in the media store
	AsDocument bool   `json:"as_document,omitempty"` // a document even when the type is a picture
}

// Enqueue stores m as a new QUEUED message and returns it; the transaction is
// committed with fsync before Enqueue returns. Only TenantID, To, Text,
// IdempotencyKey and Media of m are used; ID, Seq, State and the timestamps
// are set here. Text is required unless Media is set (a file without a
// caption); Media must name its bytes (checkMedia), which the caller stored
// before.
//
// With a non-empty IdempotencyKey that already names a message of the tenant
// (pending, or finished less than IdempotencyRetention after its creation):
// the same To, Text and Media return that message with existed=true; a
// different To, Text or Media (other bytes, name or kind) fail with
// ErrIdempotencyKeyReused. An expired message holding the key is removed and
// the key bound to the new message. The tenant may have at most QueueLimit
// pending messages, else ErrQueueFull (an existing message of the same key
// is still returned). A new message's QUEUED event is appended
// to the event log in the same transaction.
func (s *Store) Enqueue(m Message) (stored Message, existed bool, err error) {
	if err := ValidateTenantID(m.TenantID); err != nil {
		return Message{}, false, err
	}
	if m.To == "" || m.Text == "" && m.Media == nil {
		return Message{}, false, fmt.Errorf("tenant %q: recipient and text (or a file) are required: %w", m.TenantID, ErrInvalidMessage)
	}
	if err := checkMedia(m.Media); err != nil {
		return Message{}, false, fmt.Errorf("tenant %q: %w", m.TenantID, err)
	}
	if len(m.IdempotencyKey) > MaxIdempotencyKeyLen {
		return Message{}, false, fmt.Errorf("tenant %q: idempotency key longer than %d bytes: %w", m.TenantID, MaxIdempotencyKeyLen, ErrInvalidMessage)
	}
	if s.pg != nil {
		return s.pg.enqueue(m)
	}
	err = s.updateLogged(func(tx *bolt.Tx, log *eventWriter) error {
		// Read the clock inside the transaction: writers are serialized, so
		// CreatedAt and ID follow Seq order.
		now := s.clock()
		msgs, err := tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(m.TenantID))
		if err != nil {
			return err
		}
		pending, err := tx.Bucket(bucketPending).CreateBucketIfNotExists([]byte(m.TenantID))
		if err != nil {
			return err
		}
		idem := tx.Bucket(bucketIdempotency)
		var idemKey []byte
		if m.IdempotencyKey != "" {
			idemKey = append(tenantPrefix(m.TenantID), m.IdempotencyKey...)
			if seq := idem.Get(idemKey); seq != nil {
				old, err := decodeMessage(msgs.Get(seq))
				switch {
				case err != nil:
					return fmt.Errorf("tenant %q: idempotency key %q: %w", m.TenantID, m.IdempotencyKey, err)
				case old == nil:
					// Dangling key (message gone): rebind it below.
				case s.expired(*old, now):
					if err := deleteMessage(tx, msgs, *old); err != nil {
						return err
					}
				case sameContent(*old, m):
					stored, existed = *old, true
					return nil
				default:
					return fmt.Errorf("tenant %q: idempotency key %q names message %s: %w", m.TenantID, m.IdempotencyKey, old.ID, ErrIdempotencyKeyReused)
				}
			}
		}
		if n := countKeys(pending, s.queueLimit); n >= s.queueLimit {
			return fmt.Errorf("tenant %q: %d messages pending: %w", m.TenantID, n, ErrQueueFull)
		}
		seq, err := msgs.NextSequence()
		if err != nil {
			return err
		}
		if stored, err = newQueued(m, now, seq); err != nil {
			return err
		}
		k := seqKey(seq)
		if err := putMessage(msgs, stored); err != nil {
			return err
		}
		if err := pending.Put(k, nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMsgIDs).Put(append(tenantPrefix(m.TenantID), stored.ID...), k); err != nil {
			return err
		}
		if err := log.message(stored); err != nil { // QUEUED, in the same transaction
			return err
		}
		if idemKey != nil {
			return idem.Put(idemKey, k)
		}
		return nil
	})
	if err != nil {
		return Message{}, false, err
	}
	return stored, existed, nil
}

// GetMessage returns the tenant's message with this id, or ErrNotFound.
func (s *Store) GetMessage(tenantID, id string) (Message, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Message{}, err
	}
	if s.pg != nil {
		return s.pg.getMessage(tenantID, id)
	}
	return view(s.db, func(tx *bolt.Tx) (Message, error) {
		_, mp, err := lookupMessage(tx, tenantID, id)
		if err != nil {
			return Message{}, err
		}
		return *mp, nil
	})
}

// UpdateMessage applies fn to the stored message and stores the result in one
// transaction, committed with fsync before UpdateMessage returns, then
// returns it. ID, TenantID, To, Text, IdempotencyKey, Media, CreatedAt and
// Seq are restored after fn; UpdatedAt is set to now; a state outside
// StateQueued..StateFailed fails with ErrInvalidMessage. A WAMessageID that
// another message of the tenant already carries fails with ErrWAIDClaimed.
// On any error nothing is stored. fn must not call the Store. Missing
// message: ErrNotFound, fn is not called. A change of State appends the
// message's event to the event log in the same transaction.
//
// With Options.NodeID set the update is fenced: it commits only while this
// node holds the tenant's lease at the epoch of Fence(tenantID), else it
// fails with an error wrapping ErrFenced and stores nothing.
func (s *Store) UpdateMessage(tenantID, id string, fn func(*Message)) (Message, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Message{}, err
	}
	f, err := s.fenceFor(tenantID)
	if err != nil {
		return Message{}, err
	}
	if s.pg != nil {
		return s.pg.updateMessage(f, id, fn)
	}
	var m Message
	err = s.updateLogged(func(tx *bolt.Tx, log *eventWriter) error {
		if err := f.checkBolt(tx, s.clock()); err != nil {
			return err
		}
		msgs, old, err := lookupMessage(tx, tenantID, id)
		if err != nil {
			return err
		}
		if m, err = s.applyUpdate(*old, fn); err != nil {
			return err
		}
		if err := reindexWAID(tx, msgs, *old, m); err != nil {
			return err
		}
		if err := putMessage(msgs, m); err != nil {
			return err
		}
		if m.State != old.State { // a state change is logged in the same transaction
			if err := log.message(m); err != nil {
				return err
			}
		}
		pending := tx.Bucket(bucketPending).Bucket([]byte(tenantID))
		if pending == nil { // cannot happen: Enqueue creates both buckets
			return fmt.Errorf("tenant %q: pending index missing", tenantID)
		}
		if m.State.Pending() {
			return pending.Put(seqKey(m.Seq), nil)
		}
		return pending.Delete(seqKey(m.Seq))
	})
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// applyUpdate is UpdateMessage's change of old by fn, both backends: the
// guarded fields restored, the state checked, UpdatedAt set.
func (s *Store) applyUpdate(old Message, fn func(*Message)) (Message, error) {
	m := old
	m.Media = old.Media.clone() // fn may change its copy; old's is restored below
	fn(&m)
	m.ID, m.TenantID, m.To, m.Text = old.ID, old.TenantID, old.To, old.Text
	m.IdempotencyKey, m.CreatedAt, m.Seq, m.Media = old.IdempotencyKey, old.CreatedAt, old.Seq, old.Media
	if m.State < StateQueued || m.State > StateFailed {
		return Message{}, fmt.Errorf("tenant %q: message %s: state %v: %w", old.TenantID, old.ID, m.State, ErrInvalidMessage)
	}
	if len(m.Noted) == 0 {
		m.Noted = nil // what a reload returns
	}
	m.UpdatedAt = s.clock()
	return m, nil
}

// MessageByWAID returns the tenant's message whose WAMessageID is waID. No
// such message, or an empty waID: ErrNotFound.
func (s *Store) MessageByWAID(tenantID, waID string) (Message, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Message{}, err
	}
	if s.pg != nil {
		return s.pg.messageByWAID(tenantID, waID)
	}
	return view(s.db, func(tx *bolt.Tx) (Message, error) {
		mp, err := lookupWAID(tx, tenantID, waID)
		if err != nil {
			return Message{}, err
		}
		if mp == nil {
			return Message{}, fmt.Errorf("tenant %q: WhatsApp message %q: %w", tenantID, waID, ErrNotFound)
		}
		return *mp, nil
	})
}

// FailPending makes every pending (QUEUED or SENDING) message of the tenant
// FAILED with ErrorReason reason and Error errText, in one transaction, and
// returns the updated messages in FIFO (Seq) order; none pending: nil. The
// other fields stay, Clicked included: a message failed after its click may
// still have gone out. Used on Logout, so callers waiting on a message learn
// its fate. Each message's FAILED event is appended to the event log in the
// same transaction. With Options.NodeID set it is fenced like UpdateMessage.
func (s *Store) FailPending(tenantID, reason, errText string) ([]Message, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	f, err := s.fenceFor(tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: fail pending messages: %w", tenantID, err)
	}
	var out []Message
	if s.pg != nil {
		out, err = s.pg.failPending(f, reason, errText)
	} else {
		out, err = s.failPendingBolt(f, reason, errText)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %q: fail pending messages: %w", tenantID, err)
	}
	return out, nil
}

func (s *Store) failPendingBolt(f fence, reason, errText string) ([]Message, error) {
	tenantID := f.tenantID
	var out []Message
	err := s.updateLogged(func(tx *bolt.Tx, log *eventWriter) error {
		out = nil
		if err := f.checkBolt(tx, s.clock()); err != nil {
			return err
		}
		pending := tx.Bucket(bucketPending).Bucket([]byte(tenantID))
		msgs := tx.Bucket(bucketMessages).Bucket([]byte(tenantID))
		if pending == nil || msgs == nil {
			return nil
		}
		var keys [][]byte // collected first: deleting under a cursor skips entries
		if err := pending.ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		now := s.clock()
		for _, k := range keys {
			m, err := decodeMessage(msgs.Get(k))
			if err != nil {
				return fmt.Errorf("tenant %q: %w", tenantID, err)
			}
			if err := pending.Delete(k); err != nil {
				return err
			}
			if m == nil || !m.State.Pending() { // stale pending entry
				continue
			}
			m.State, m.ErrorReason, m.Error, m.UpdatedAt = StateFailed, reason, errText, now
			if err := putMessage(msgs, *m); err != nil {
				return err
			}
			if err := log.message(*m); err != nil {
				return err
			}
			out = append(out, *m)
		}
		return nil
	})
	return out, err
}

// Pending returns the tenant's QUEUED and SENDING messages in FIFO (Seq)
// order, every field included (Clicked and Noted too).
func (s *Store) Pending(tenantID string) ([]Message, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	if s.pg != nil {
		return s.pg.pending(tenantID)
	}
	var out []Message
	err := s.db.View(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending).Bucket([]byte(tenantID))
		msgs := tx.Bucket(bucketMessages).Bucket([]byte(tenantID))
		if pending == nil || msgs == nil {
			return nil
		}
		return pending.ForEach(func(k, _ []byte) error {
			m, err := decodeMessage(msgs.Get(k))
			if err != nil {
				return fmt.Errorf("tenant %q: %w", tenantID, err)
			}
			if m != nil {
				out = append(out, *m)
			}
			return nil
		})
	})
	return out, err
}

// QueueDepth returns how many messages of the tenant are pending (QUEUED or SENDING).
func (s *Store) QueueDepth(tenantID string) (int, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return 0, err
	}
	if s.pg != nil {
		return s.pg.queueDepth(tenantID)
	}
	return view(s.db, func(tx *bolt.Tx) (int, error) {
		b := tx.Bucket(bucketPending).Bucket([]byte(tenantID))
		if b == nil {
			return 0, nil
		}
		return countKeys(b, -1), nil
	})
}

// OutboxSize returns how many messages are stored, all tenants and states.
func (s *Store) OutboxSize() (int, error) {
	if s.pg != nil {
		return s.pg.outboxSize()
	}
	return view(s.db, func(tx *bolt.Tx) (int, error) {
		n := 0
		root := tx.Bucket(bucketMessages)
		err := root.ForEachBucket(func(k []byte) error {
			n += countKeys(root.Bucket(k), -1)
			return nil
		})
		return n, err
	})
}

// PurgeExpired removes finished messages created IdempotencyRetention or
// longer ago, with their idempotency keys, and any key or id entry left
// pointing at no message. It returns how many messages it removed.
func (s *Store) PurgeExpired() (int, error) {
	now := s.clock()
	if s.pg != nil {
		return s.pg.purgeExpired(now.Add(-s.retention))
	}
	var removed int
	err := s.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		root := tx.Bucket(bucketMessages)
		var tenants [][]byte
		if err := root.ForEachBucket(func(k []byte) error {
			tenants = append(tenants, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, tenant := range tenants {
			msgs := root.Bucket(tenant)
			var expired []Message
			err := msgs.ForEach(func(k, v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return fmt.Errorf("tenant %q: %w", tenant, err)
				}
				if m != nil && s.expired(*m, now) {
					expired = append(expired, *m)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, m := range expired {
				if err := deleteMessage(tx, msgs, m); err != nil {
					return err
				}
			}
			removed += len(expired)
		}
		// Sweep index entries whose message is gone.
		for _, name := range [][]byte{bucketIdempotency, bucketMsgIDs, bucketWAIDs} {
			if err := deleteDangling(tx, tx.Bucket(name)); err != nil {
				return err
			}
		}
		return nil
	})
	return removed, err
}

// expired: finished and created at least the retention ago.
func (s *Store) expired(m Message, now time.Time) bool {
	return m.State.Finished() && !now.Before(m.CreatedAt.Add(s.retention))
}

// lookupMessage finds a message through the msgids index.
func lookupMessage(tx *bolt.Tx, tenantID, id string) (*bolt.Bucket, *Message, error) {
	notFound := fmt.Errorf("tenant %q: message %q: %w", tenantID, id, ErrNotFound)
	seq := tx.Bucket(bucketMsgIDs).Get(append(tenantPrefix(tenantID), id...))
	msgs := tx.Bucket(bucketMessages).Bucket([]byte(tenantID))
	if seq == nil || msgs == nil || id == "" {
		return nil, nil, notFound
	}
	m, err := decodeMessage(msgs.Get(seq))
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %q: %w", tenantID, err)
	}
	if m == nil {
		return nil, nil, notFound
	}
	return msgs, m, nil
}

// deleteMessage removes m and its pending, msgids, idempotency and waids
// entries (the idempotency and waids ones only while they still point at m).
func deleteMessage(tx *bolt.Tx, msgs *bolt.Bucket, m Message) error {
	k := seqKey(m.Seq)
	if err := msgs.Delete(k); err != nil {
		return err
	}
	if p := tx.Bucket(bucketPending).Bucket([]byte(m.TenantID)); p != nil {
		if err := p.Delete(k); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketMsgIDs).Delete(append(tenantPrefix(m.TenantID), m.ID...)); err != nil {
		return err
	}
	if m.IdempotencyKey != "" {
		idem := tx.Bucket(bucketIdempotency)
		ik := append(tenantPrefix(m.TenantID), m.IdempotencyKey...)
		if v := idem.Get(ik); v != nil && string(v) == string(k) {
			if err := idem.Delete(ik); err != nil {
				return err
			}
		}
	}
	return unindexWAID(tx, m)
}

// WAKey is the part of a WhatsApp Web message id that stays the same when
// the page's build changes: the message id after the last "_" of
// "true_<jid>_<id>" (or "false_…"), or a bare id (the 2026 builds) as it
// is. Two ids with the same key name the same message: the store's
// uniqueness of WAMessageID and MessageByWAID go by it.
func WAKey(waID string) string {
	if !strings.HasPrefix(waID, "true_") && !strings.HasPrefix(waID, "false_") {
		return waID
	}
	return waID[strings.LastIndexByte(waID, '_')+1:]
}

// waidKey is the key of waID in the waids bucket (by its WAKey).
func waidKey(tenantID, waID string) []byte {
	return append(tenantPrefix(tenantID), WAKey(waID)...)
}

// lookupWAID returns the tenant's message that carries waID, or nil when
// none does (an index entry pointing at a missing message, or at one that no
// longer carries waID, counts as none).
func lookupWAID(tx *bolt.Tx, tenantID, waID string) (*Message, error) {
	if waID == "" {
		return nil, nil
	}
	seq := tx.Bucket(bucketWAIDs).Get(waidKey(tenantID, waID))
	msgs := tx.Bucket(bucketMessages).Bucket([]byte(tenantID))
	if seq == nil || msgs == nil {
		return nil, nil
	}
	m, err := decodeMessage(msgs.Get(seq))
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", tenantID, err)
	}
	if m == nil || WAKey(m.WAMessageID) != WAKey(waID) {
		return nil, nil
	}
	return m, nil
}

// reindexWAID moves the waids entry of a message from old.WAMessageID to
// m.WAMessageID, failing with ErrWAIDClaimed when another message of the
// tenant carries the new id. Nothing changes when the id did not.
func reindexWAID(tx *bolt.Tx, msgs *bolt.Bucket, old, m Message) error {
	if m.WAMessageID == old.WAMessageID {
		return nil
	}
	if m.WAMessageID != "" {
		holder, err := lookupWAID(tx, m.TenantID, m.WAMessageID)
		if err != nil {
			return err
		}
		if holder != nil && holder.Seq != m.Seq {
			return fmt.Errorf("tenant %q: message %s: WhatsApp message %q is message %s: %w",
				m.TenantID, m.ID, m.WAMessageID, holder.ID, ErrWAIDClaimed)
		}
	}
	if err := unindexWAID(tx, old); err != nil {
		return err
	}
	if m.WAMessageID == "" {
		return nil
	}
	return tx.Bucket(bucketWAIDs).Put(waidKey(m.TenantID, m.WAMessageID), seqKey(m.Seq))
}

// unindexWAID deletes the waids entry of m.WAMessageID if it points at m.
func unindexWAID(tx *bolt.Tx, m Message) error {
	if m.WAMessageID == "" {
		return nil
	}
	waids := tx.Bucket(bucketWAIDs)
	k := waidKey(m.TenantID, m.WAMessageID)
	if v := waids.Get(k); v != nil && bytes.Equal(v, seqKey(m.Seq)) {
		return waids.Delete(k)
	}
	return nil
}

// buildWAIDIndex fills the empty waids bucket from the stored messages, for a
// database written before the index existed. Such a database may hold two
// messages of a tenant with the same WAMessageID; the index then names the
// first (lowest Seq), the one enqueued earlier, and the later keeps its
// WAMessageID but is not found by it.
func buildWAIDIndex(tx *bolt.Tx, waids *bolt.Bucket) error {
	root := tx.Bucket(bucketMessages)
	return root.ForEachBucket(func(tenant []byte) error {
		return root.Bucket(tenant).ForEach(func(k, v []byte) error { // Seq order
			m, err := decodeMessage(v)
			if err != nil {
				return fmt.Errorf("tenant %q: %w", tenant, err)
			}
			if m == nil || m.WAMessageID == "" {
				return nil
			}
			wk := waidKey(string(tenant), m.WAMessageID)
			if waids.Get(wk) != nil {
				return nil
			}
			return waids.Put(wk, bytes.Clone(k))
		})
	})
}

// deleteDangling removes entries "tenant\x00…" → seq of b whose seq has no
// message in messages/<tenant>.
func deleteDangling(tx *bolt.Tx, b *bolt.Bucket) error {
	root := tx.Bucket(bucketMessages)
	var dead [][]byte
	err := b.ForEach(func(k, v []byte) error {
		tenant, _, ok := cutNUL(k)
		msgs := root.Bucket(tenant)
		if !ok || msgs == nil || msgs.Get(v) == nil {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func cutNUL(k []byte) (before, after []byte, ok bool) {
	for i, c := range k {
		if c == 0 {
			return k[:i], k[i+1:], true
		}
	}
	return k, nil, false
}

func putMessage(msgs *bolt.Bucket, m Message) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return msgs.Put(seqKey(m.Seq), v)
}

// decodeMessage returns nil, nil for a nil value (no such message).
func decodeMessage(v []byte) (*Message, error) {
	if v == nil {
		return nil, nil
	}
	var m Message
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	return &m, nil
}

// view returns what read finds in one bbolt read transaction.
func view[T any](db *bolt.DB, read func(tx *bolt.Tx) (T, error)) (T, error) {
	var v T
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = read(tx)
		return err
	})
	return v, err
}

// countKeys counts b's keys, stopping at limit when limit >= 0.
func countKeys(b *bolt.Bucket, limit int) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil && (limit < 0 || n < limit); k, _ = c.Next() {
		n++
	}
	return n
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// newMessageID returns 16 hex digits of now in unix nanoseconds then 8 random
// hex digits.
// newQueued is the message Enqueue stores for m: a new id, QUEUED, created
// now, with the tenant's next seq. Only the caller's TenantID, To, Text and
// IdempotencyKey are kept.
func newQueued(m Message, now time.Time, seq uint64) (Message, error) {
	id, err := newMessageID(now)
	if err != nil {
		return Message{}, err
	}
	return Message{
		ID:             id,
		TenantID:       m.TenantID,
		To:             m.To,
		Text:           m.Text,
		IdempotencyKey: m.IdempotencyKey,
		Media:          m.Media.clone(),
		State:          StateQueued,
		CreatedAt:      now,
		UpdatedAt:      now,
		Seq:            seq,
	}, nil
}

func newMessageID(now time.Time) (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", errors.Join(errors.New("sessionstore: message id"), err)
	}
	return fmt.Sprintf("%016x", uint64(now.UnixNano())) + hex.EncodeToString(r[:]), nil
}
