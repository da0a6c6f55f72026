package sessionstore

// Dead-letter lists: per consumer of the event log (the webhook), the events
// it gave up delivering, each kept with the body it delivers so that it
// outlives the log's retention, until the consumer delivers it on request.
//
//	consumer gives up ──► ParkDeadEvent ──► listed (DeadEvents)
//	                                            │ RedeliverDeadEvents (an operator)
//	                                            ▼
//	                          listed, Redeliver set ──► the consumer tries again:
//	                                 delivered: DeleteDeadEvent
//	                                 failed:    ParkDeadEvent (Redeliver cleared)
//
// bbolt: bucket deadevents, one nested bucket per consumer, key seq (8 bytes
// big-endian) → DeadEvent as JSON. PostgreSQL (pgdeadevents.go): table
// dead_events. Both commit before returning (bbolt with fsync).

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketDeadEvents holds the dead-letter lists (see above).
var bucketDeadEvents = []byte("deadevents")

// Bounds of DeadEventQuery.Limit.
const (
	DefaultDeadEventLimit = 100
	MaxDeadEventLimit     = 1000
)

// DeadEvent is an entry of a consumer's dead-letter list.
type DeadEvent struct {
	// Seq is the event's sequence number in the log (Store.Cursor renders it).
	Seq uint64 `json:"seq"`
	// Body is what the consumer delivers for the event, as it was built when
	// parked (the webhook: the event's JSON, never a message's text).
	Body []byte `json:"body"`
	// Attempts is how many deliveries failed the last time it was tried.
	Attempts int `json:"attempts"`
	// LastError says why the last one failed; never a body or a credential.
	LastError string `json:"last_error,omitempty"`
	// ParkedAt is when it was (last) parked: set by ParkDeadEvent, the
	// store's clock.
	ParkedAt time.Time `json:"parked_at"`
	// Redeliver: a redelivery was asked for (RedeliverDeadEvents) and has
	// not been tried yet.
	Redeliver bool `json:"redeliver,omitempty"`
}

// DeadEventQuery selects entries of a dead-letter list, in Seq order.
type DeadEventQuery struct {
	// After: only entries with a larger Seq (0: from the first).
	After uint64
	// Limit: at most this many; 0 or less: DefaultDeadEventLimit (100);
	// more than MaxDeadEventLimit (1000): that.
	Limit int
	// RedeliverOnly: only the entries whose Redeliver is set.
	RedeliverOnly bool
}

func (q DeadEventQuery) limit() int {
	if q.Limit <= 0 {
		return DefaultDeadEventLimit
	}
	return min(q.Limit, MaxDeadEventLimit)
}

var errNoConsumer = errors.New("sessionstore: consumer name is required")

// ParkDeadEvent stores d in consumer's dead-letter list, replacing the entry
// of the same Seq; ParkedAt becomes now and Redeliver false. It returns the
// entry as stored.
func (s *Store) ParkDeadEvent(consumer string, d DeadEvent) (DeadEvent, error) {
	if consumer == "" {
		return DeadEvent{}, errNoConsumer
	}
	d.ParkedAt, d.Redeliver = s.clock().UTC(), false
	if s.pg != nil {
		return d, s.pg.parkDeadEvent(consumer, d)
	}
	v, err := json.Marshal(d)
	if err != nil {
		return DeadEvent{}, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketDeadEvents).CreateBucketIfNotExists([]byte(consumer))
		if err != nil {
			return err
		}
		return b.Put(seqKey(d.Seq), v)
	})
	if err != nil {
		return DeadEvent{}, fmt.Errorf("dead event %d of %q: %w", d.Seq, consumer, err)
	}
	return d, nil
}

// DeadEvents returns the entries of consumer's dead-letter list that q
// selects, in Seq order.
func (s *Store) DeadEvents(consumer string, q DeadEventQuery) ([]DeadEvent, error) {
	if consumer == "" {
		return nil, errNoConsumer
	}
	if s.pg != nil {
		return s.pg.deadEvents(consumer, q)
	}
	var out []DeadEvent
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeadEvents).Bucket([]byte(consumer))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(q.After + 1)); k != nil && len(out) < q.limit(); k, v = c.Next() {
			var d DeadEvent
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode dead event: %w", err)
			}
			if d.Seq > q.After && (!q.RedeliverOnly || d.Redeliver) {
				out = append(out, d)
			}
		}
		return nil
	})
	return out, err
}

// RedeliverDeadEvents sets Redeliver on the entries seqs of consumer's
// dead-letter list (none given: on every entry) and returns how many it
// set. When one of seqs is not in the list it sets none and fails with
// ErrNotFound.
func (s *Store) RedeliverDeadEvents(consumer string, seqs []uint64) (int, error) {
	if consumer == "" {
		return 0, errNoConsumer
	}
	seqs = slices.Compact(slices.Sorted(slices.Values(seqs)))
	if s.pg != nil {
		return s.pg.redeliverDeadEvents(consumer, seqs)
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketDeadEvents).Bucket([]byte(consumer))
		mark := func(k, v []byte) error {
			var d DeadEvent
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode dead event: %w", err)
			}
			n++
			if d.Redeliver {
				return nil
			}
			d.Redeliver = true
			v, err := json.Marshal(d)
			if err != nil {
				return err
			}
			return b.Put(k, v)
		}
		if len(seqs) == 0 {
			if b == nil {
				return nil
			}
			// Collect first: a bucket is not changed while it is iterated.
			var keys, vals [][]byte
			err := b.ForEach(func(k, v []byte) error {
				keys, vals = append(keys, k), append(vals, v)
				return nil
			})
			if err != nil {
				return err
			}
			for i := range keys {
				if err := mark(keys[i], vals[i]); err != nil {
					return err
				}
			}
			return nil
		}
		for _, seq := range seqs {
			var v []byte
			if b != nil {
				v = b.Get(seqKey(seq))
			}
			if v == nil {
				return fmt.Errorf("dead event %d of %q: %w", seq, consumer, ErrNotFound)
			}
			if err := mark(seqKey(seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DeleteDeadEvent removes the entry seq from consumer's dead-letter list
// (delivered). An entry that is not there is no error.
func (s *Store) DeleteDeadEvent(consumer string, seq uint64) error {
	if consumer == "" {
		return errNoConsumer
	}
	if s.pg != nil {
		return s.pg.deleteDeadEvent(consumer, seq)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeadEvents).Bucket([]byte(consumer))
		if b == nil {
			return nil
		}
		return b.Delete(seqKey(seq))
	})
}
