package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/sessionstore"
)

// Placement is the cluster's say in which tenants this daemon runs (cluster
// mode, package cluster). With none (Config.Placement nil) the daemon runs
// every tenant of its store, as a single node does.
//
// With a Placement, the supervisor starts no tenant by itself: a runner is
// created only after Claim succeeds (a Send or Link that reached this node,
// or the cluster's Start of a tenant the hash gives it), and the cluster
// stops runners with Release when its lease ends or the tenant moves.
type Placement interface {
	// NodeID names this node in Session.Node.
	NodeID() string
	// Claim makes this node the tenant's holder before a runner starts for
	// it: it takes the tenant's lease and restores the profile from the
	// newest snapshot when the local one is older. An error wrapping
	// ErrNotHolder means another node holds the tenant. On success the
	// tenant stays claimed (no move or snapshot of it begins) until done is
	// called: the caller starts the runner, or finishes what needs the
	// lease, first.
	Claim(ctx context.Context, tenantID string) (done func(), err error)
	// Holds reports whether this node's lease on the tenant is valid now,
	// with a margin for the action that follows. The runner asks right
	// before an action that cannot be taken back, such as the click on the
	// send button: a node whose lease may have lapsed (it was paused, or
	// cut off from the store) must never act for the tenant.
	Holds(tenantID string) bool
	// Linked is told that the tenant's phone just linked, so that a
	// snapshot is taken soon (a tenant with no snapshot cannot move).
	Linked(tenantID string)
}

// ErrNotHolder: another node holds the tenant (cluster mode); the call
// should go there.
var ErrNotHolder = errors.New("another node holds the tenant")

// errLeaseLapsed fails a send attempt, before its click, on a node whose
// lease on the tenant may have lapsed. The attempt counts and the message
// stays QUEUED for the node that holds the tenant.
var errLeaseLapsed = errors.New("this node's lease on the tenant may have lapsed: not clicking")

// holds is Placement.Holds, true on a single node.
func (s *Supervisor) holds(id string) bool {
	return s.cfg.Placement == nil || s.cfg.Placement.Holds(id)
}

// Start starts the tenant's runner on this node (cluster mode: the cluster
// calls it after taking the tenant's lease). A linked tenant's browser
// starts; an unlinked one waits for a Link. No-op when it runs already.
// With a Placement that does not hold the tenant (any more), nothing
// starts: an error wrapping ErrNotHolder.
func (s *Supervisor) Start(ctx context.Context, id string) error {
	if err := s.waitStarted(ctx); err != nil {
		return err
	}
	if !s.holds(id) {
		return fmt.Errorf("tenant %q: this node's lease on it may have lapsed, not starting: %w", id, ErrNotHolder)
	}
	t, err := s.tenant(id)
	if err != nil {
		return err
	}
	// No Claim: the cluster holds the lease already, and may be in the
	// middle of the tenant's move or snapshot, which Claim waits for.
	s.forgetSize(id) // the profile may have just been restored
	r, _ := s.startRunner(id, t.Linked, false)
	if r == nil {
		return fmt.Errorf("daemon stopping: %w", ErrUnavailable)
	}
	r.poke() // a queue left by the tenant's previous holder
	return nil
}

// ErrNotAtRest: Release stopped the tenant's runner, but its last browser
// did not close gracefully (it died on its own, or the stop ladder had to
// kill it): the profile may have lost its last writes and is no consistent
// snapshot (DESIGN.md: every snapshot is taken after a graceful close).
var ErrNotAtRest = errors.New("the browser did not close gracefully: the profile is not at rest")

// Release stops the tenant's runner on this node and waits until its
// browser closed (a send in flight may finish first, within the stop
// budget), so that its profile can be snapshot and its lease given up. The
// runner is gone either way; an error wrapping ErrNotAtRest says that the
// profile was not left by a graceful close: take no snapshot of it. Send
// calls waiting here for the tenant's messages keep waiting: the next
// holder sends them and the shared event log tells this node
// (MessageFinished). No-op when the tenant has no runner here.
func (s *Supervisor) Release(ctx context.Context, id string) error {
	s.runnersMu.Lock()
	r := s.runners[id]
	delete(s.runners, id)
	s.runnersMu.Unlock()
	s.forgetSize(id) // the profile leaves, or is replaced by a restore
	if r == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		if r.notAtRest != nil { // written by the runner before done closed
			return fmt.Errorf("tenant %q: %w: %w", id, ErrNotAtRest, r.notAtRest)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tenant %q: closing its browser: %w", id, ctx.Err())
	}
}

// Running lists the tenants with a runner on this node, sorted.
func (s *Supervisor) Running() []string {
	s.runnersMu.Lock()
	defer s.runnersMu.Unlock()
	ids := make([]string, 0, len(s.runners))
	for id := range s.runners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Poke tells the tenant's runner, if it runs here, that its outbox changed
// (cluster mode: a message was queued through another node).
func (s *Supervisor) Poke(id string) {
	if r := s.existingRunner(id); r != nil {
		r.poke()
	}
}

// MessageFinished hands a message that another node finished (seen in the
// shared event log) to the Send calls waiting for it on this node.
func (s *Supervisor) MessageFinished(m Message) {
	if !m.State.Finished() {
		return
	}
	if full, err := s.store.GetMessage(m.TenantID, m.ID); err == nil {
		m = full // the event log leaves the text out
	}
	s.messageDone(m)
}

// restoreSkew is the allowance between two nodes' clocks when a message's
// click time is compared with a snapshot's: a click up to this long before
// the snapshot was taken may not be in it.
const restoreSkew = 30 * time.Second

// Restored is told, before the tenant's runner starts, that its profile was
// just replaced by a snapshot taken at takenAt (cluster mode: a failover or
// a move). The restored page cannot show a click made after the snapshot:
// a pending message clicked after takenAt (or at an unknown time) is never
// clicked again, and ends FAILED with reason UNCONFIRMED, for it may have
// gone out (DESIGN.md, "Sends: exactly once"). It returns the messages so
// ended. First it notes whether the snapshot is older than the tenant's
// last activity (noteRestore).
func (s *Supervisor) Restored(id string, takenAt time.Time) ([]Message, error) {
	if err := s.noteRestore(id, takenAt); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", id, err)
	}
	pending, err := s.store.Pending(id)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", id, err)
	}
	var ended []Message
	var errs []error
	for _, m := range pending {
		if !m.Clicked || (!m.ClickedAt.IsZero() && m.ClickedAt.Before(takenAt.Add(-restoreSkew))) {
			continue
		}
		done, err := s.store.UpdateMessage(id, m.ID, func(x *Message) {
			x.State, x.ErrorReason = MessageFailed, ReasonUnconfirmed
			x.Error = fmt.Sprintf("clicked at %s, then the profile was restored from a snapshot taken at %s, which cannot show whether it went out: not sent again",
				x.ClickedAt.UTC().Format(time.RFC3339), takenAt.UTC().Format(time.RFC3339))
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.log.Warn("a clicked message cannot be confirmed after a restore: FAILED, reason UNCONFIRMED",
			zap.String("tenant", id), zap.String("message", m.ID), zap.Time("clicked_at", m.ClickedAt), zap.Time("snapshot_at", takenAt))
		s.messageDone(done)
		ended = append(ended, done)
	}
	return ended, errors.Join(errs...)
}

// noteRestore flags a restore from a snapshot taken at takenAt, before the
// tenant's last activity (a send, a link): the device's Signal state rolls
// back by that much, and peers written to since may see "Waiting for this
// message" until retry receipts heal it. The flag (Tenant.StaleRestore,
// shown by Status) and its event commit together; the Observer (metrics)
// and the log get its age. A restore of a current snapshot clears the flag.
func (s *Supervisor) noteRestore(id string, takenAt time.Time) error {
	t, err := s.store.GetTenant(id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !t.LastActive.After(takenAt) {
		if t.StaleRestore != nil {
			_, err = s.evlog.UpdateTenant(id, func(t *sessionstore.Tenant) { t.StaleRestore = nil })
		}
		return err
	}
	sr := StaleRestore{RestoredAt: time.Now().UTC(), SnapshotAt: takenAt.UTC(), LastActive: t.LastActive.UTC()}
	ch := sessionstore.SessionEvent{StaleRestore: &sr, LastError: fmt.Sprintf("restored a snapshot %s older than the last activity", sr.Behind().Round(time.Second))}
	if _, _, err := s.evlog.UpdateTenantLogged(id, func(t *sessionstore.Tenant) { t.StaleRestore = &sr }, ch); err != nil {
		return fmt.Errorf("flagging a restore older than the last activity: %w", err)
	}
	s.cfg.Observer.StaleRestore(id, sr.Behind())
	s.log.Warn("restored a snapshot older than the tenant's last activity: its device state rolls back",
		zap.String("tenant", id), zap.Duration("behind", sr.Behind()), zap.Time("snapshot_at", sr.SnapshotAt), zap.Time("last_active", sr.LastActive))
	return nil
}
