package supervisor

// Events out: the supervisor's side of the durable event log
// (sessionstore/events.go). Message state changes are logged by the store in
// the transaction of the change; session state changes are committed by the
// runner when its state changes (runner.commit, flushChanges below): each
// event with the change of the tenant's record it goes with, if any, in one
// transaction, retried in order while the store fails; a tenant's deletion
// and its Deleted event commit together in sessionstore's DeleteTenant.
// Readers:
//
//   - WatchEvents (the WatchEvents RPC): the backlog after a cursor, then live
//     events through a bounded subscription; a consumer that lets it fill is
//     cut off with ErrSlowConsumer.
//   - NextEvents, ConsumerCursor, SetConsumerCursor (the webhook sender):
//     read at its own pace, position kept in the store.
//
// Nothing here owns a goroutine: WatchEvents and NextEvents run on their
// caller's.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/sessionstore"
)

// DefaultWatchBuffer is how many live events WatchEvents holds for a consumer
// that has not taken them yet before it cuts the consumer off.
const DefaultWatchBuffer = 1024

// watchBatch is how many backlog events one read of the log returns.
const watchBatch = 256

// Event errors.
var (
	// ErrInvalidCursor: not a cursor of this daemon's shape (INVALID_ARGUMENT,
	// reason INVALID_CURSOR).
	ErrInvalidCursor = sessionstore.ErrInvalidCursor
	// ErrCursorOutOfRange: a cursor the log cannot resume from (OUT_OF_RANGE,
	// reason CURSOR_OUT_OF_RANGE). Errors wrapping it are *CursorRangeError,
	// which names the oldest event kept.
	ErrCursorOutOfRange = sessionstore.ErrCursorOutOfRange
	// ErrSlowConsumer: a WatchEvents consumer let its buffer of live events
	// fill (RESOURCE_EXHAUSTED, reason SLOW_CONSUMER). Errors wrapping it are
	// *SlowConsumerError, which names the cursor to resume from.
	ErrSlowConsumer = errors.New("event consumer too slow")
)

// CursorRangeError names the cursor asked for, the oldest event kept and the
// cursor to start from to read them all.
type CursorRangeError = sessionstore.CursorRangeError

// SlowConsumerError ends a WatchEvents whose consumer fell behind.
type SlowConsumerError struct {
	// Cursor is where the consumer stopped: resume after it.
	Cursor string
	Buffer int // the live events held for it
}

func (e *SlowConsumerError) Error() string {
	return fmt.Sprintf("more than %d live events waited for this consumer; resume after cursor %q: %v", e.Buffer, e.Cursor, ErrSlowConsumer)
}

func (e *SlowConsumerError) Unwrap() error { return ErrSlowConsumer }

// Event is one entry of the event log. Exactly one of Session and Message is
// set.
type Event struct {
	// Cursor names the event and its place in the log (opaque).
	Cursor   string
	At       time.Time
	TenantID string
	Session  *SessionChange
	// Message is the message right after the change, without its text.
	Message *Message
}

// SessionChange is a change of a tenant's session state.
type SessionChange struct {
	From, To  State  // StateUnknown when not known (From), or Deleted (To)
	LastError string // the session's last error after the change
	Deleted   bool   // the tenant was logged out and deleted
	// StaleRestore, when set, makes the event the report of a restore
	// from a snapshot older than the last activity, not a change of state
	// (From and To are StateUnknown).
	StaleRestore *StaleRestore
}

// sessionLog is where the supervisor commits session changes with their
// events: the store. Tests wrap it to make writes fail.
type sessionLog interface {
	AppendSessionEvent(tenant string, ch sessionstore.SessionEvent) (sessionstore.Event, error)
	UpdateTenantLogged(id string, fn func(*sessionstore.Tenant), ch sessionstore.SessionEvent) (sessionstore.Tenant, sessionstore.Event, error)
	UpdateTenant(id string, fn func(*sessionstore.Tenant)) (sessionstore.Tenant, error)
}

// pendingChange is the store's part of one session change: its event (nil
// when the state did not change), a change of the tenant's record (nil:
// none), committed together, and what to do once they are.
type pendingChange struct {
	event  *sessionstore.SessionEvent
	tenant func(*sessionstore.Tenant)
	done   func(sessionstore.Tenant)
}

// maxUnlogged bounds the session changes a runner keeps while the store
// refuses them; beyond it the oldest are dropped, each with an error log.
const maxUnlogged = 256

func sessionEventOf(from State, after Session) *sessionstore.SessionEvent {
	return &sessionstore.SessionEvent{From: from.String(), To: after.State.String(), LastError: after.LastError}
}

// flushChanges commits the runner's pending session changes to the store,
// oldest first, each its event and record change in one transaction
// (runner goroutine; from commit, the idle tick and shutdown). A write that
// fails leaves it and those after it for the next call: events are never
// reordered, and never dropped for a transient failure. Dropped: a change
// refused by the lease's fence (this node does not hold the tenant any
// more; its holder logs its own), and the oldest beyond maxUnlogged.
func (r *runner) flushChanges() {
	for len(r.unlogged) > 0 {
		c := r.unlogged[0]
		t, err := r.s.commitChange(r.id, c)
		switch {
		case err == nil:
			if c.done != nil {
				c.done(t)
			}
		case errors.Is(err, sessionstore.ErrNotFound) && c.event != nil && c.tenant != nil:
			// The record is gone (deleted): the event still happened.
			r.unlogged[0].tenant = nil
			continue
		case errors.Is(err, sessionstore.ErrFenced):
			r.log.Warn("session change not logged: this node does not hold the tenant's lease (any more); its holder logs its own", zap.Error(err))
		case errors.Is(err, sessionstore.ErrNotFound):
			r.log.Warn("tenant record change not stored: the tenant is gone", zap.Error(err))
		default:
			if r.unloggedSince.IsZero() {
				r.unloggedSince = time.Now()
				r.log.Warn("logging a session change failed: retrying, in order, until the store takes it", zap.Error(err))
			}
			for len(r.unlogged) > maxUnlogged {
				r.log.Error("session change dropped: the store refused it for too long", zap.Time("failing_since", r.unloggedSince),
					zap.Any("event", r.unlogged[0].event))
				r.unlogged = r.unlogged[1:]
			}
			return
		}
		r.unlogged = r.unlogged[1:]
	}
	if !r.unloggedSince.IsZero() {
		r.log.Info("session changes logged again", zap.Duration("after", time.Since(r.unloggedSince)))
		r.unloggedSince = time.Time{}
	}
	r.unlogged = nil
}

// commitChange writes c in one transaction and returns the record as
// stored (zero without a record change).
func (s *Supervisor) commitChange(tenant string, c pendingChange) (sessionstore.Tenant, error) {
	switch {
	case c.tenant != nil && c.event != nil:
		t, _, err := s.evlog.UpdateTenantLogged(tenant, c.tenant, *c.event)
		return t, err
	case c.tenant != nil:
		return s.evlog.UpdateTenant(tenant, c.tenant)
	default:
		_, err := s.evlog.AppendSessionEvent(tenant, *c.event)
		return sessionstore.Tenant{}, err
	}
}

// purgeEvents drops events older than EventRetention (housekeeping),
// keeping those a webhook has not delivered up to EventUndeliveredMax, and
// says so: a log line and Observer.EventsPurged (metrics).
func (s *Supervisor) purgeEvents() {
	r, err := s.store.PurgeEvents(sessionstore.EventPurge{Retention: s.cfg.EventRetention, UndeliveredMax: s.cfg.EventUndeliveredMax})
	if err != nil {
		s.log.Warn("purging old events", zap.Error(err), zap.Int("purged", r.Purged))
		return
	}
	s.cfg.Observer.EventsPurged(r)
	if r.Purged > 0 {
		s.log.Info("purged old events", zap.Int("events", r.Purged))
	}
	if len(r.Behind) == 0 {
		return
	}
	behind := make([]string, len(r.Behind))
	for i, c := range r.Behind {
		behind[i] = c.Name + " at " + s.store.Cursor(c.Seq)
	}
	if r.Held > 0 {
		s.log.Warn("events past the retention are kept: a webhook has not delivered them yet (kept up to --event-retention-undelivered)",
			zap.Int("events", r.Held), zap.Strings("consumers", behind))
	}
	if r.Dropped > 0 {
		s.log.Error("events purged before a webhook delivered them: older than --event-retention-undelivered; that webhook never gets them",
			zap.Int("events", r.Dropped), zap.Strings("consumers", behind))
	}
}

// WatchRequest selects the events of a WatchEvents call.
type WatchRequest struct {
	// Tenants keeps the events of these tenants; empty: every tenant. Each
	// must be a valid tenant id; unknown tenants are allowed.
	Tenants []string
	// After is the cursor of the last event the consumer handled; "" means
	// from now (the newest event in the log).
	After string
	// Buffer is how many live events are held for the consumer; 0:
	// DefaultWatchBuffer.
	Buffer int
	// Started, when set, is called once the watch is in place, before any
	// event, with the cursor it starts after (After, or the newest event's
	// cursor when After is ""). An error ends the watch.
	Started func(cursor string) error
}

// WatchEvents calls fn with every event after req.After that req selects, in
// log order: first those in the log, then live ones as they are committed,
// with no gap and no repeat between the two. It returns when ctx ends (its
// error), fn fails (that error), the daemon drains (ErrUnavailable: the
// client reconnects with its last cursor), or the consumer is too slow: when
// req.Buffer live events wait for fn, a *SlowConsumerError. A bad cursor is
// ErrInvalidCursor or a *CursorRangeError; a bad tenant id
// ErrInvalidTenantID. fn must not keep the event's Message.
func (s *Supervisor) WatchEvents(ctx context.Context, req WatchRequest, fn func(Event) error) error {
	match, err := tenantMatch(req.Tenants)
	if err != nil {
		return err
	}
	buffer := req.Buffer
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	var pos uint64 // the log is read up to here: resume after it
	if req.After == "" {
		if pos, err = s.store.EventHead(); err != nil {
			return err
		}
	} else if pos, err = s.store.ParseCursor(req.After); err != nil {
		return err
	}
	// The first read checks the cursor (purged, from the future) before
	// anything is sent.
	evs, next, err := s.store.EventsAfter(pos, watchBatch, match)
	if err != nil {
		return err
	}
	if req.Started != nil {
		if err := req.Started(s.store.Cursor(pos)); err != nil {
			return err
		}
	}
	send := func(evs []sessionstore.Event) error {
		for _, ev := range evs {
			if ev.Seq <= pos {
				continue // read from the log already
			}
			if err := fn(s.event(ev)); err != nil {
				return err
			}
			pos = ev.Seq
		}
		return nil
	}
	// catchUp sends what the log holds after pos. Until the subscription
	// exists nothing is held in memory for a slow consumer: the backlog is
	// read at its pace.
	catchUp := func() error {
		for {
			if err := send(evs); err != nil {
				return err
			}
			if next == pos && len(evs) == 0 {
				return nil
			}
			pos = max(pos, next) // past events of other tenants too
			if err := s.drainedOrDone(ctx); err != nil {
				return err
			}
			if evs, next, err = s.store.EventsAfter(pos, watchBatch, match); err != nil {
				return err
			}
		}
	}
	if err := catchUp(); err != nil {
		return err
	}
	// Subscribe, then read the log once more: an event committed before the
	// subscription is in the log, one committed after is in the
	// subscription, one committed in between in both (skipped by seq).
	sub := s.store.SubscribeEvents(buffer, match)
	defer sub.Close()
	if evs, next, err = s.store.EventsAfter(pos, watchBatch, match); err != nil {
		return err
	}
	if err := catchUp(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.drainCh:
			return fmt.Errorf("daemon stopping; resume after cursor %q: %w", s.store.Cursor(pos), ErrUnavailable)
		case ev, ok := <-sub.Events():
			if !ok {
				if sub.Overflowed() {
					return &SlowConsumerError{Cursor: s.store.Cursor(pos), Buffer: buffer}
				}
				return errors.New("event subscription closed")
			}
			if err := send([]sessionstore.Event{ev}); err != nil {
				return err
			}
		}
	}
}

func (s *Supervisor) drainedOrDone(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.drainCh:
		return fmt.Errorf("daemon stopping: %w", ErrUnavailable)
	default:
		return nil
	}
}

// tenantMatch validates ids and returns the filter of their events (nil for
// every tenant).
func tenantMatch(ids []string) (func(*sessionstore.Event) bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		if err := sessionstore.ValidateTenantID(id); err != nil {
			return nil, err
		}
		set[id] = true
	}
	return func(ev *sessionstore.Event) bool { return set[ev.TenantID] }, nil
}

// NextEvents returns up to limit events after cursor `after`, in log order,
// waiting until there is at least one or ctx ends. For consumers that read
// at their own pace and keep their position (the webhook sender): nothing is
// held for them in memory. A cursor the log no longer holds is a
// *CursorRangeError.
func (s *Supervisor) NextEvents(ctx context.Context, after string, limit int) ([]Event, error) {
	pos, err := s.store.ParseCursor(after)
	if err != nil {
		return nil, err
	}
	for {
		changed := s.store.EventsChanged() // before the read: no wake-up is lost
		evs, _, err := s.store.EventsAfter(pos, limit, nil)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			out := make([]Event, len(evs))
			for i, ev := range evs {
				out[i] = s.event(ev)
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// HeadCursor returns the cursor of the newest event (of position 0 when the
// log never held one): reading after it yields only later events.
func (s *Supervisor) HeadCursor() (string, error) {
	head, err := s.store.EventHead()
	if err != nil {
		return "", err
	}
	return s.store.Cursor(head), nil
}

// ConsumerCursor returns the stored position of a named consumer of the log
// (the last event it handled); ok is false when none is stored.
func (s *Supervisor) ConsumerCursor(name string) (cursor string, ok bool, err error) {
	seq, ok, err := s.store.ConsumerPosition(name)
	if err != nil || !ok {
		return "", false, err
	}
	return s.store.Cursor(seq), true, nil
}

// SetConsumerCursor stores a named consumer's position (synced to disk).
func (s *Supervisor) SetConsumerCursor(name, cursor string) error {
	seq, err := s.store.ParseCursor(cursor)
	if err != nil {
		return err
	}
	return s.store.SetConsumerPosition(name, seq)
}

// event converts a stored event.
func (s *Supervisor) event(ev sessionstore.Event) Event {
	out := Event{Cursor: s.store.Cursor(ev.Seq), At: ev.At, TenantID: ev.TenantID, Message: ev.Message}
	if c := ev.Session; c != nil {
		out.Session = &SessionChange{From: stateByName(c.From), To: stateByName(c.To), LastError: c.LastError, Deleted: c.Deleted, StaleRestore: c.StaleRestore}
	}
	return out
}

// stateByName is the inverse of State.String; StateUnknown for "" or an
// unknown name.
func stateByName(name string) State {
	for i, n := range stateNames {
		if n == name {
			return State(i)
		}
	}
	return StateUnknown
}
