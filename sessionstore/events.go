package sessionstore

// The event log: every message state change and every session state change,
// in order, each with a sequence number that a client keeps as its cursor.
//
//	Enqueue ────────────┐  (same transaction as the change)
//	UpdateMessage ──────┤
//	FailPending ────────┤
//	UpdateTenantLogged ─┼──► events/<seq> ──► PurgeEvents after the retention
//	DeleteTenant ───────┤        │
//	AppendSessionEvent ─┘        ├──► EventsAfter (the backlog, read by cursor)
//	                             └──► subscribers (live, after the commit)
//
// A change and its event commit together: no event without its change, no
// change without its event. A session state change that also changes the
// tenant's record (linked, logged out) commits both with
// UpdateTenantLogged; a deletion logs its Deleted event in DeleteTenant's
// transaction; a change of a state that lives only in memory (the
// supervisor's) is AppendSessionEvent, a small transaction of its own, which
// the supervisor retries, in order, until it commits.
//
// Order (bbolt): sequence numbers come from the events bucket's sequence,
// inside the write transaction; bbolt serializes writers, so a reader never
// sees seq n+1 without seq n. Store.evMu is held across each event-writing
// transaction and the publication of its events to the subscribers, so that
// subscribers also receive them in sequence order. Lock order: Store.evMu,
// then eventHub.mu.
//
// Order (PostgreSQL, pgevents.go): every appending transaction takes one
// transaction-level advisory lock before it allocates its seqs, so
// transactions commit in seq order and no reader sees n+1 without n. Events
// reach the subscribers of every node through the hub of each Store: its
// writer publishes its own events after the commit, and a listener
// goroutine (LISTEN/NOTIFY, with polling as a fallback) publishes those
// committed by other processes, both in seq order after the last published
// seq.

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultEventRetention is how long events are kept.
const DefaultEventRetention = 7 * 24 * time.Hour

// Keys of the eventmeta bucket.
var (
	metaLogID    = []byte("log_id")         // 8 hex digits, random: the first segment's id
	metaSegments = []byte("segments")       // the log's segments, JSON (see logSegment)
	metaPurged   = []byte("purged_through") // seq (8 bytes) of the newest purged event
)

// logSegment is a run of the log's seqs that share the id cursors carry.
// With bbolt every Open starts a segment, at the head + 1, with a new
// random id, so the events a Store appends carry an id no earlier open
// used: a data dir restored from a backup (a copy of wapool.db) goes on
// from the backup's head under an id of its own, and never names a new
// event as an event the lost copy had already handed out (X-Wapool-Event-Id,
// cursors). The events of earlier segments keep their ids, and cursors
// into them stay valid: a receiver that de-duplicates by event id drops
// only events it really had. A segment with no event that is not the
// first is replaced by the next open's (its id is in no cursor).
// PostgreSQL has one segment, its log id (see docs/operations.md).
type logSegment struct {
	Start uint64 `json:"start"` // its first seq; its last is the next segment's Start - 1
	ID    string `json:"id"`    // 8 hex digits
}

var (
	// ErrInvalidCursor: a string that is not a cursor of this package.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrCursorOutOfRange: a well-formed cursor that the log cannot resume
	// from: its successors were purged, it is newer than the newest event,
	// or it comes from another database. Errors wrapping it are
	// *CursorRangeError.
	ErrCursorOutOfRange = errors.New("cursor out of range")
)

// CursorRangeError says which cursor the log could not resume from and
// where a reader may start instead. It wraps ErrCursorOutOfRange.
type CursorRangeError struct {
	Cursor string // the cursor asked for
	// Oldest is the cursor of the oldest event kept; "" when the log holds
	// none.
	Oldest string
	// Start is the cursor to resume after to read every event kept, the
	// oldest included.
	Start string
}

func (e *CursorRangeError) Error() string {
	oldest := e.Oldest
	if oldest == "" {
		oldest = "none: the log is empty"
	}
	return fmt.Sprintf("event cursor %q is not in the log (oldest event kept: %s; start cursor %s): %v", e.Cursor, oldest, e.Start, ErrCursorOutOfRange)
}

func (e *CursorRangeError) Unwrap() error { return ErrCursorOutOfRange }

// Event is one entry of the log. Exactly one of Session and Message is set.
// Events handed to subscribers are shared between them: read-only.
type Event struct {
	// Seq orders the log, from 1; Store.Cursor renders it for clients.
	Seq uint64 `json:"seq"`
	// At is when it was appended: by the database's clock with
	// PostgreSQL (one clock for every node), by Options.Now with bbolt.
	At       time.Time `json:"at"`
	TenantID string    `json:"tenant_id"`
	// Session is a change of the tenant's session state.
	Session *SessionEvent `json:"session,omitempty"`
	// Message is the message right after a change of its state. Its Text,
	// Clicked and Noted are never stored in the log (zero here).
	Message *Message `json:"message,omitempty"`
}

// SessionEvent is a change of a tenant's session state. States are the
// supervisor's names ("READY"); the store does not interpret them.
type SessionEvent struct {
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"` // "" when Deleted
	LastError string `json:"last_error,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"` // the tenant was logged out and deleted
	// StaleRestore, when set, makes the event the report of a restore from
	// a snapshot older than the tenant's last activity, not a change of
	// state (From and To are "").
	StaleRestore *StaleRestore `json:"stale_restore,omitempty"`
}

// initEventLog creates the event buckets and starts this open's segment
// of the log (bbolt Open), and returns the segments.
func initEventLog(tx *bolt.Tx) ([]logSegment, error) {
	for _, b := range [][]byte{bucketEvents, bucketConsumers, bucketDeadEvents} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return nil, err
		}
	}
	meta, err := tx.CreateBucketIfNotExists(bucketEventMeta)
	if err != nil {
		return nil, err
	}
	var segs []logSegment
	if v := meta.Get(metaSegments); v != nil {
		if err := json.Unmarshal(v, &segs); err != nil {
			return nil, fmt.Errorf("event log segments: %w", err)
		}
	} else if id := meta.Get(metaLogID); id != nil {
		// A log of before segments: its one id names every event so far.
		segs = []logSegment{{Start: 1, ID: string(id)}}
	}
	id, err := newLogID(segs)
	if err != nil {
		return nil, err
	}
	next := tx.Bucket(bucketEvents).Sequence() + 1
	if n := len(segs); n > 1 && segs[n-1].Start == next {
		segs[n-1].ID = id // it holds no event, and no cursor names it
	} else {
		segs = append(segs, logSegment{Start: next, ID: id})
	}
	if meta.Get(metaLogID) == nil {
		if err := meta.Put(metaLogID, []byte(segs[0].ID)); err != nil {
			return nil, err
		}
	}
	v, err := json.Marshal(segs)
	if err != nil {
		return nil, err
	}
	return segs, meta.Put(metaSegments, v)
}

// newLogID draws a random log id that no segment has.
func newLogID(segs []logSegment) (string, error) {
	for {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("event log id: %w", err)
		}
		id := hex.EncodeToString(b[:])
		if !slices.ContainsFunc(segs, func(s logSegment) bool { return s.ID == id }) {
			return id, nil
		}
	}
}

// segmentOf returns the index of the segment holding seq: the last whose
// Start is at most seq; seq 0 (before any event) is the first segment's.
func (s *Store) segmentOf(seq uint64) int {
	i, _ := slices.BinarySearchFunc(s.segs, seq+1, func(g logSegment, t uint64) int { return cmp.Compare(g.Start, t) })
	// s.segs[:i] start at most seq (BinarySearch finds the first Start >= seq+1).
	return max(i-1, 0)
}

// Cursor renders seq as the opaque cursor clients keep:
// "<log id, 8 hex digits>-<seq, 16 hex digits>", the log id being that of
// the segment holding seq (logSegment). Log ids are random, so a cursor of
// another database (a new data dir) fails ParseCursor instead of pointing at
// an unrelated event, and so does a cursor a lost copy of this one handed
// out after the backup it was restored from.
func (s *Store) Cursor(seq uint64) string {
	return s.segs[s.segmentOf(seq)].ID + "-" + fmt.Sprintf("%016x", seq)
}

// ParseCursor returns the sequence number of a cursor that Cursor rendered.
// A string of another shape fails with ErrInvalidCursor; a cursor of
// another database, or one naming a seq its log id's segment does not hold
// here (a restored copy's lost future), with a *CursorRangeError.
func (s *Store) ParseCursor(c string) (uint64, error) {
	id, hexSeq, ok := strings.Cut(c, "-")
	if !ok || len(id) != 8 || len(hexSeq) != 16 || !isLowerHex(id) || !isLowerHex(hexSeq) {
		return 0, fmt.Errorf("event cursor %q: %w", c, ErrInvalidCursor)
	}
	seq, err := strconv.ParseUint(hexSeq, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("event cursor %q: %w", c, ErrInvalidCursor)
	}
	if !s.inSegment(id, seq) {
		if s.pg != nil {
			return 0, s.pg.rangeError(c)
		}
		var re *CursorRangeError
		_ = s.db.View(func(tx *bolt.Tx) error {
			re = s.rangeError(tx, c)
			return nil
		})
		return 0, re
	}
	return seq, nil
}

// inSegment reports whether a segment of log id holds the position seq:
// from its Start - 1 (the position before its first event) to its last.
func (s *Store) inSegment(id string, seq uint64) bool {
	for i, g := range s.segs {
		if g.ID != id {
			continue
		}
		if seq+1 < g.Start {
			return false
		}
		return i == len(s.segs)-1 || seq < s.segs[i+1].Start
	}
	return false
}

func isLowerHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// AppendSessionEvent appends a session state change of the tenant to the log
// (committed with fsync) and returns it. With Options.NodeID set it is
// fenced like UpdateMessage.
func (s *Store) AppendSessionEvent(tenantID string, ch SessionEvent) (Event, error) {
	if err := ValidateTenantID(tenantID); err != nil {
		return Event{}, err
	}
	f, err := s.fenceFor(tenantID)
	if err != nil {
		return Event{}, fmt.Errorf("tenant %q: event: %w", tenantID, err)
	}
	var ev Event
	if s.pg != nil {
		ev, err = s.pg.appendSessionEvent(f, ch)
	} else {
		err = s.updateLogged(func(tx *bolt.Tx, log *eventWriter) error {
			if err := f.checkBolt(tx, s.clock()); err != nil {
				return err
			}
			var err error
			ev, err = log.append(Event{TenantID: tenantID, Session: &ch})
			return err
		})
	}
	if err != nil {
		return Event{}, fmt.Errorf("tenant %q: event: %w", tenantID, err)
	}
	return ev, nil
}

// EventHead returns the sequence number of the newest event ever appended
// (0 when none): a reader that starts after it sees only later events.
func (s *Store) EventHead() (uint64, error) {
	if s.pg != nil {
		return s.pg.eventHead()
	}
	return view(s.db, func(tx *bolt.Tx) (uint64, error) {
		return tx.Bucket(bucketEvents).Sequence(), nil
	})
}

// maxEventScan bounds the entries one EventsAfter call reads, matching or not.
const maxEventScan = 4096

// EventsAfter returns, in order, up to limit events after seq `after` for
// which match returns true (nil: every event), and next: the position to
// pass as `after` to go on, past events that did not match. It reads at most
// max(limit, 4096) entries. An `after` the log cannot resume from (its
// successors were purged, or it is newer than the newest event) fails with a
// *CursorRangeError. The read transaction ends before EventsAfter returns.
func (s *Store) EventsAfter(after uint64, limit int, match func(*Event) bool) (evs []Event, next uint64, err error) {
	if limit <= 0 {
		limit = 1
	}
	if s.pg != nil {
		return s.pg.eventsAfter(after, limit, match)
	}
	next = after
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		if after > b.Sequence() || after < purgedThrough(tx) {
			return s.rangeError(tx, s.Cursor(after))
		}
		c := b.Cursor()
		scanned := 0
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(evs) < limit && scanned < max(limit, maxEventScan); k, v = c.Next() {
			scanned++
			ev, err := decodeEvent(v)
			if err != nil {
				return err
			}
			next = ev.Seq
			if match == nil || match(&ev) {
				evs = append(evs, ev)
			}
		}
		return nil
	})
	if err != nil {
		return nil, after, err
	}
	return evs, next, nil
}

// rangeError builds the error for cursor c from the log's bounds.
func (s *Store) rangeError(tx *bolt.Tx, c string) *CursorRangeError {
	e := &CursorRangeError{Cursor: c, Start: s.Cursor(purgedThrough(tx))}
	if k, _ := tx.Bucket(bucketEvents).Cursor().First(); k != nil {
		e.Oldest = s.Cursor(binary.BigEndian.Uint64(k))
	}
	return e
}

func purgedThrough(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketEventMeta).Get(metaPurged); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// purgeBatch bounds the events one PurgeEvents transaction deletes (a var:
// tests make it small).
var purgeBatch = 10000

// DefaultUndeliveredRetention is how long an event a consumer of the log
// has not passed yet is kept at most (EventPurge.UndeliveredMax).
const DefaultUndeliveredRetention = 30 * 24 * time.Hour

// EventPurge says which events PurgeEvents removes.
type EventPurge struct {
	// Retention: events stored this long ago or longer are removed, except
	// those a consumer (a webhook: ConsumerPosition) has not passed yet. 0:
	// DefaultEventRetention.
	Retention time.Duration
	// UndeliveredMax is the hard cap on that exception: an event stored
	// this long ago or longer is removed even when a consumer has not
	// passed it (PurgeReport.Dropped says how many). 0:
	// DefaultUndeliveredRetention; less than Retention: Retention.
	UndeliveredMax time.Duration
}

// PurgeReport says what PurgeEvents did.
type PurgeReport struct {
	Purged int // events removed
	// Held is how many events past the retention were kept because a
	// consumer has not passed them yet; they go once it has, or at
	// UndeliveredMax.
	Held int
	// Dropped is how many events were removed before every consumer had
	// passed them (older than UndeliveredMax): those consumers never get
	// them (a webhook logs the gap when it reaches it).
	Dropped int
	// Behind lists the consumers that hold events past the retention, or
	// lost some to the cap, with their positions, slowest first.
	Behind []ConsumerLag
}

// ConsumerLag is a consumer of the log and the seq it reached.
type ConsumerLag struct {
	Name string
	Seq  uint64
}

func (p *EventPurge) defaults() {
	if p.Retention <= 0 {
		p.Retention = DefaultEventRetention
	}
	if p.UndeliveredMax <= 0 {
		p.UndeliveredMax = DefaultUndeliveredRetention
	}
	p.UndeliveredMax = max(p.UndeliveredMax, p.Retention)
}

// purgePlan is where a purge stops, from the log's bounds: retEnd is the
// newest event past the retention, capEnd the newest past UndeliveredMax
// (capEnd <= retEnd), purged the newest already removed; consumers are the
// stored positions.
func purgePlan(purged, retEnd, capEnd uint64, consumers []ConsumerLag) (upto uint64, r PurgeReport) {
	upto = retEnd
	slices.SortFunc(consumers, func(a, b ConsumerLag) int { return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Name, b.Name)) })
	if len(consumers) > 0 && consumers[0].Seq < retEnd {
		slowest := max(consumers[0].Seq, purged)
		upto = max(slowest, capEnd)
		r.Held = int(retEnd - upto)
		if upto > slowest {
			r.Dropped = int(upto - slowest)
		}
		for _, c := range consumers {
			if c.Seq < retEnd {
				r.Behind = append(r.Behind, c)
			}
		}
	}
	return max(upto, purged), r
}

// PurgeEvents removes the events stored p.Retention or longer ago, by the
// clock that stamped them (the database's with PostgreSQL), except those a
// consumer of the log has not passed yet, which are kept up to
// p.UndeliveredMax; it says what it removed, kept and dropped. Events go
// oldest first, in transactions of at most purgeBatch events; cursors up
// to the newest removed event are out of range from then on.
func (s *Store) PurgeEvents(p EventPurge) (PurgeReport, error) {
	p.defaults()
	if s.pg != nil {
		return s.pg.purgeEvents(p)
	}
	var upto uint64
	var r PurgeReport
	err := s.db.View(func(tx *bolt.Tx) error {
		now := s.clock()
		purged := purgedThrough(tx)
		b := tx.Bucket(bucketEvents)
		retEnd, err := youngFrom(b, purged, now.Add(-p.Retention))
		if err != nil {
			return err
		}
		capEnd, err := youngFrom(b, purged, now.Add(-p.UndeliveredMax))
		if err != nil {
			return err
		}
		var consumers []ConsumerLag
		err = tx.Bucket(bucketConsumers).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				consumers = append(consumers, ConsumerLag{Name: string(k), Seq: binary.BigEndian.Uint64(v)})
			}
			return nil
		})
		upto, r = purgePlan(purged, retEnd, capEnd, consumers)
		return err
	})
	if err != nil {
		return PurgeReport{}, fmt.Errorf("purging events: %w", err)
	}
	for {
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketEvents)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < purgeBatch && binary.BigEndian.Uint64(k) <= upto; k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			if len(keys) == 0 {
				return nil
			}
			n = len(keys)
			return tx.Bucket(bucketEventMeta).Put(metaPurged, keys[len(keys)-1])
		})
		r.Purged += n
		if err != nil {
			return r, fmt.Errorf("purging events: %w", err)
		}
		if n < purgeBatch {
			return r, nil
		}
	}
}

// youngFrom returns the seq before the first event of b stored at cutoff
// or later (b's sequence when none is), events being appended in time
// order: a binary search by seq over the events kept (after purged).
func youngFrom(b *bolt.Bucket, purged uint64, cutoff time.Time) (uint64, error) {
	lo, hi := purged+1, b.Sequence()+1 // the answer + 1 is in [lo, hi]
	c := b.Cursor()
	var ferr error
	young := func(seq uint64) bool {
		k, v := c.Seek(seqKey(seq))
		if k == nil {
			return true
		}
		ev, err := decodeEvent(v)
		if err != nil {
			ferr = err
			return true
		}
		return !ev.At.Before(cutoff)
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if young(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo - 1, ferr
}

// ConsumerPosition returns the position stored for a named consumer of the
// log (the webhook: the newest event it delivered); ok is false when none is
// stored.
func (s *Store) ConsumerPosition(name string) (seq uint64, ok bool, err error) {
	if s.pg != nil {
		return s.pg.consumerPosition(name)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketConsumers).Get([]byte(name)); len(v) == 8 {
			seq, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	return seq, ok, err
}

// SetConsumerPosition stores a named consumer's position (committed with
// fsync).
func (s *Store) SetConsumerPosition(name string, seq uint64) error {
	if name == "" {
		return errors.New("sessionstore: consumer name is required")
	}
	if s.pg != nil {
		return s.pg.setConsumerPosition(name, seq)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConsumers).Put([]byte(name), seqKey(seq))
	})
}

// eventWriter appends events inside one write transaction and keeps them for
// publication after the commit.
type eventWriter struct {
	tx  *bolt.Tx
	now time.Time
	out []Event
}

// append stores ev with the next sequence number and the transaction's time.
func (w *eventWriter) append(ev Event) (Event, error) {
	b := w.tx.Bucket(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return Event{}, err
	}
	ev.Seq, ev.At = seq, w.now
	v, err := json.Marshal(ev)
	if err != nil {
		return Event{}, err
	}
	if err := b.Put(seqKey(seq), v); err != nil {
		return Event{}, err
	}
	w.out = append(w.out, ev)
	return ev, nil
}

// message appends the state change of m (as stored after the change).
func (w *eventWriter) message(m Message) error {
	_, err := w.append(messageEvent(m))
	return err
}

// messageEvent is the event of m's state change, both backends: without
// what never goes in the log.
func messageEvent(m Message) Event {
	m.Text, m.Clicked, m.Noted = "", false, nil
	return Event{TenantID: m.TenantID, Message: &m}
}

// updateLogged runs fn in a write transaction that may append events, and
// publishes them to the subscribers once it committed, in log order.
func (s *Store) updateLogged(fn func(tx *bolt.Tx, log *eventWriter) error) error {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	var w eventWriter
	err := s.db.Update(func(tx *bolt.Tx) error {
		w = eventWriter{tx: tx, now: s.clock()}
		return fn(tx, &w)
	})
	if err != nil {
		return err
	}
	s.hub.publish(w.out)
	return nil
}

func decodeEvent(v []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(v, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// eventHub hands committed events to live subscribers. It owns no goroutine:
// publish runs on the writer's goroutine and never blocks. mu guards the
// fields that follow.
type eventHub struct {
	mu   sync.Mutex
	subs map[*EventSubscription]struct{}
	wake chan struct{} // closed by the next publish; nil until asked for
}

// EventSubscription receives the events committed after SubscribeEvents, in
// order, through a bounded buffer. A subscriber that lets its buffer fill is
// dropped: its channel closes and Overflowed reports true.
type EventSubscription struct {
	hub   *eventHub
	ch    chan Event
	match func(*Event) bool
	// Guarded by hub.mu.
	overflowed, closed bool
}

// SubscribeEvents subscribes to the events committed from now on that match
// (nil: all), buffering up to buffer of them (at least 1). match runs on the
// writer's goroutine with the store's locks held: keep it cheap and never
// call the Store from it. Close the subscription when done.
func (s *Store) SubscribeEvents(buffer int, match func(*Event) bool) *EventSubscription {
	sub := &EventSubscription{hub: &s.hub, ch: make(chan Event, max(buffer, 1)), match: match}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.hub.subs == nil {
		s.hub.subs = map[*EventSubscription]struct{}{}
	}
	s.hub.subs[sub] = struct{}{}
	return sub
}

// Events delivers the subscription's events; it is closed by Close or when
// the buffer overflowed.
func (sub *EventSubscription) Events() <-chan Event { return sub.ch }

// Overflowed reports whether the subscription was dropped because its
// buffer was full when an event came.
func (sub *EventSubscription) Overflowed() bool {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	return sub.overflowed
}

// Close ends the subscription; its channel closes. Safe to call twice.
func (sub *EventSubscription) Close() {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	sub.endLocked()
}

func (sub *EventSubscription) endLocked() {
	if sub.closed {
		return
	}
	sub.closed = true
	delete(sub.hub.subs, sub)
	close(sub.ch)
}

// EventsChanged returns a channel that is closed when the next event is
// committed. Take it before reading the log, then wait on it when the read
// found nothing new: no event can slip between the two.
func (s *Store) EventsChanged() <-chan struct{} {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.hub.wake == nil {
		s.hub.wake = make(chan struct{})
	}
	return s.hub.wake
}

// publish hands evs to every subscriber whose match they pass, dropping a
// subscriber whose buffer is full, and wakes EventsChanged waiters.
func (h *eventHub) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.wake != nil {
		close(h.wake)
		h.wake = nil
	}
	for sub := range h.subs {
	events:
		for i := range evs {
			if sub.match != nil && !sub.match(&evs[i]) {
				continue
			}
			select {
			case sub.ch <- evs[i]:
			default:
				sub.overflowed = true
				sub.endLocked()
				break events
			}
		}
	}
}
