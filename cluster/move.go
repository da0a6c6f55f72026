package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/snapshot"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// moveAway is a planned move: close the browser gracefully, upload the
// snapshot, release the lease. The node the hash names takes the tenant at
// its next tick. When the upload fails the tenant stays here and runs
// again: a move without its newest profile could lose the link.
func (n *Node) moveAway(ctx context.Context, id string) error {
	n.mu.Lock()
	_, held := n.held[id]
	n.mu.Unlock()
	if !held {
		return nil
	}
	start := n.cfg.Now()
	// Not cut short by the daemon's stop: the tenant stays locked until
	// its browser is closed, so nothing restores under a running Chrome.
	if err := n.sup.Release(context.WithoutCancel(ctx), id); err != nil {
		if errors.Is(err, supervisor.ErrNotAtRest) {
			// No snapshot of a killed browser's profile: the tenant runs
			// on here, and a later move closes it gracefully first.
			return n.stay(ctx, id, err)
		}
		return fmt.Errorf("closing the browser before a move: %w", err)
	}
	t, err := n.cfg.Store.GetTenant(id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		n.giveUp(id)
		return nil
	}
	if err != nil {
		return n.stay(ctx, id, err)
	}
	var info snapshot.Info
	if t.Linked {
		if info, err = n.snapshot(ctx, id); err != nil {
			return n.stay(ctx, id, err)
		}
	}
	n.giveUp(id)
	// The profile is credentials and is in the bucket now: no stale copy
	// stays on this node (a later hold restores the newest anyway).
	if dir, err := n.cfg.Store.ProfileDir(id); err == nil {
		if err := os.RemoveAll(dir); err != nil {
			n.log.Warn("removing the local profile after a move", zap.String("tenant", id), zap.Error(err))
		}
		_ = os.Remove(markerPath(dir))
	}
	n.log.Info("moved the tenant away", zap.String("tenant", id), zap.Int64("snapshot_bytes", info.Bytes),
		zap.Duration("took", n.cfg.Now().Sub(start)))
	return nil
}

// stay restarts a tenant whose move failed with err.
func (n *Node) stay(ctx context.Context, id string, err error) error {
	if serr := n.sup.Start(ctx, id); serr != nil {
		n.log.Warn("restarting a tenant after a failed move", zap.String("tenant", id), zap.Error(serr))
	}
	return fmt.Errorf("move failed, the tenant stays: %w", err)
}

// refresh takes a snapshot of a tenant that stays here: a graceful restart
// of its browser with the upload in between. A browser that did not close
// gracefully is started again with no upload: the last good snapshot stays.
// Neither the upload nor the start happens when the lease was lost during
// the close (confirm): the next holder's profile and browser are its own.
func (n *Node) refresh(ctx context.Context, id string) error {
	rerr := n.sup.Release(context.WithoutCancel(ctx), id)
	var err error
	if rerr != nil {
		err = fmt.Errorf("no snapshot: %w", rerr)
	} else if _, err = n.snapshot(ctx, id); err == nil {
		n.mu.Lock()
		delete(n.linkedAt, id)
		n.mu.Unlock()
	}
	if _, cerr := n.confirm(id); cerr != nil {
		return errors.Join(err, fmt.Errorf("not started again: %w", cerr))
	}
	if serr := n.sup.Start(ctx, id); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// activityQuiet is how long a tenant must have been quiet (no send, no
// link) before a snapshot after activity: not in the middle of a burst.
const activityQuiet = 10 * time.Second

// snapshotDue tells whether a held tenant needs a snapshot now: soon after
// its link, after activity (SnapshotAfterActivity), or when SnapshotEvery
// has passed, by this node's clock, since
// its snapshot was last known current here (taken here, or restored or
// found current when this node took the tenant; a tenant with none is due
// at once), and only at an idle moment (READY, nothing queued). No other
// node's clock is read.
func (n *Node) snapshotDue(ctx context.Context, t sessionstore.Tenant) bool {
	now := n.cfg.Now()
	n.mu.Lock()
	linkedAt, linked := n.linkedAt[t.ID]
	snapped := n.snapped[t.ID]
	n.mu.Unlock()
	due := linked && now.Sub(linkedAt) >= n.cfg.SnapshotAfterLink
	if n.cfg.SnapshotEvery > 0 && t.Linked && now.Sub(snapped) >= n.cfg.SnapshotEvery {
		due = true
	}
	if n.cfg.SnapshotAfterActivity > 0 && t.Linked && t.LastActive.After(snapped) &&
		now.Sub(snapped) >= n.cfg.SnapshotAfterActivity && now.Sub(t.LastActive) >= activityQuiet {
		due = true
	}
	if !due {
		return false
	}
	s, err := n.sup.Status(ctx, t.ID)
	return err == nil && s.State == supervisor.StateReady && s.Queued == 0
}

// snapshot uploads the tenant's closed profile as its next generation and
// records it as current. The lease is checked against the store first
// (confirm), the object is named by the generation and this node's epoch,
// so an upload never replaces the current snapshot, and the record is
// fenced: a node that lost the lease during the upload leaves an object
// nobody reads. Older snapshots are pruned after the record.
func (n *Node) snapshot(ctx context.Context, id string) (snapshot.Info, error) {
	dir, err := n.cfg.Store.ProfileDir(id)
	if err != nil {
		return snapshot.Info{}, err
	}
	l, err := n.confirm(id)
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("no upload: %w", err)
	}
	cur, err := n.cfg.Store.CurrentSnapshot(id)
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("reading the current snapshot: %w", err)
	}
	ref := snapshot.Ref{Gen: cur.Gen + 1, Epoch: l.Epoch}
	info, err := n.cfg.Snapshots.Save(ctx, id, dir, ref)
	if err != nil {
		return info, fmt.Errorf("uploading the profile snapshot: %w", err)
	}
	rec := sessionstore.Snapshot{TenantID: id, Gen: ref.Gen, Epoch: ref.Epoch, TakenAt: info.TakenAt}
	if err := n.cfg.Store.RecordSnapshot(rec); err != nil {
		if errors.Is(err, sessionstore.ErrFenced) {
			err = fmt.Errorf("%w: %w", supervisor.ErrNotHolder, err)
		}
		return info, fmt.Errorf("recording the snapshot %s: %w", ref, err)
	}
	if err := writeMarker(dir, ref); err != nil {
		return info, err
	}
	n.mu.Lock()
	n.snapped[id] = n.cfg.Now()
	n.mu.Unlock()
	if err := n.cfg.Snapshots.Prune(ctx, id, ref); err != nil {
		n.log.Warn("pruning older snapshots", zap.String("tenant", id), zap.Error(err))
	}
	n.log.Info("profile snapshot uploaded", zap.String("tenant", id), zap.Uint64("gen", ref.Gen), zap.Int64("bytes", info.Bytes), zap.Int("files", info.Files))
	return info, nil
}

// restore replaces the local profile with the tenant's current snapshot
// when the local one is of an older generation (or missing). A tenant never
// snapshot keeps what this node has.
func (n *Node) restore(ctx context.Context, id string) error {
	cur, err := n.cfg.Store.CurrentSnapshot(id)
	if err != nil {
		return err
	}
	now := n.cfg.Now()
	if cur.Gen == 0 {
		n.setSnapped(id, time.Time{}) // none: due at once
		return nil
	}
	dir, err := n.cfg.Store.ProfileDir(id)
	if err != nil {
		return err
	}
	ref := snapshot.Ref{Gen: cur.Gen, Epoch: cur.Epoch}
	if local := readMarker(dir); local.Gen >= cur.Gen {
		n.setSnapped(id, now)
		return nil
	}
	info, err := n.cfg.Snapshots.Restore(ctx, id, dir, ref)
	if errors.Is(err, snapshot.ErrNotFound) {
		n.log.Warn("the tenant's snapshot is missing: starting with the local profile", zap.String("tenant", id), zap.Uint64("gen", ref.Gen))
		n.setSnapped(id, time.Time{})
		return nil
	}
	if err != nil {
		return fmt.Errorf("restoring the profile snapshot: %w", err)
	}
	n.log.Info("profile restored from its snapshot", zap.String("tenant", id), zap.Uint64("gen", ref.Gen), zap.Time("snapshot_at", info.TakenAt),
		zap.String("taken_by", cur.Node), zap.Int64("bytes", info.Bytes), zap.Duration("took", n.cfg.Now().Sub(now)))
	// Restored also flags a snapshot older than the tenant's last activity
	// (Status, an event, a metric): the device rolls back, and recipients
	// of the messages since may see "Waiting for this message" until retry
	// receipts heal it.
	// Messages clicked after the snapshot cannot be looked up on the
	// restored page: they end UNCONFIRMED, never clicked again. The time is
	// the snapshot's as its holder recorded it (in the authenticated
	// manifest), by the clock that also stamped that holder's clicks.
	// Before the marker: a failure here restores (and asks) again at the
	// next claim.
	if _, err := n.sup.Restored(id, info.TakenAt); err != nil {
		return fmt.Errorf("ending messages clicked after the snapshot: %w", err)
	}
	n.setSnapped(id, now)
	return writeMarker(dir, ref)
}

func (n *Node) setSnapped(id string, at time.Time) {
	n.mu.Lock()
	n.snapped[id] = at
	n.mu.Unlock()
}

// The marker beside a profile dir (<dir>.snapshot) records the snapshot the
// local profile was last uploaded as or restored from: "gen G epoch E". A
// marker of another form (the time of an older release) reads as gen 0.
func markerPath(dir string) string { return strings.TrimRight(dir, "/") + ".snapshot" }

func readMarker(dir string) snapshot.Ref {
	b, err := os.ReadFile(markerPath(dir))
	if err != nil {
		return snapshot.Ref{}
	}
	var r snapshot.Ref
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "gen %d epoch %d", &r.Gen, &r.Epoch); err != nil {
		return snapshot.Ref{}
	}
	return r
}

func writeMarker(dir string, ref snapshot.Ref) error {
	if err := os.WriteFile(markerPath(dir), fmt.Appendf(nil, "gen %d epoch %d\n", ref.Gen, ref.Epoch), 0o600); err != nil {
		return fmt.Errorf("recording the local snapshot: %w", err)
	}
	return nil
}
