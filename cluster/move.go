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
func (n *Node) refresh(ctx context.Context, id string) error {
	if err := n.sup.Release(context.WithoutCancel(ctx), id); err != nil {
		if serr := n.sup.Start(ctx, id); serr != nil {
			return errors.Join(err, serr)
		}
		return fmt.Errorf("no snapshot: %w", err)
	}
	_, err := n.snapshot(ctx, id)
	if err == nil {
		n.mu.Lock()
		delete(n.linkedAt, id)
		n.mu.Unlock()
	}
	if serr := n.sup.Start(ctx, id); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// snapshotDue tells whether a held tenant needs a snapshot now: soon after
// its link, or when the newest is older than SnapshotEvery, and only at an
// idle moment (READY, nothing queued).
func (n *Node) snapshotDue(ctx context.Context, t sessionstore.Tenant) bool {
	now := n.cfg.Now()
	n.mu.Lock()
	linkedAt, linked := n.linkedAt[t.ID]
	n.mu.Unlock()
	due := linked && now.Sub(linkedAt) >= n.cfg.SnapshotAfterLink
	if n.cfg.SnapshotEvery > 0 && t.Linked && now.Sub(t.SnapshotAt) >= n.cfg.SnapshotEvery {
		due = true
	}
	if !due {
		return false
	}
	s, err := n.sup.Status(ctx, t.ID)
	return err == nil && s.State == supervisor.StateReady && s.Queued == 0
}

// snapshot uploads the tenant's closed profile and records when.
func (n *Node) snapshot(ctx context.Context, id string) (snapshot.Info, error) {
	dir, err := n.cfg.Store.ProfileDir(id)
	if err != nil {
		return snapshot.Info{}, err
	}
	info, err := n.cfg.Snapshots.Save(ctx, id, dir)
	if err != nil {
		return info, fmt.Errorf("uploading the profile snapshot: %w", err)
	}
	if _, err := n.cfg.Store.UpdateTenant(id, func(t *sessionstore.Tenant) { t.SnapshotAt = info.TakenAt }); err != nil {
		return info, fmt.Errorf("recording the snapshot: %w", err)
	}
	if err := writeMarker(dir, info.TakenAt); err != nil {
		return info, err
	}
	n.log.Info("profile snapshot uploaded", zap.String("tenant", id), zap.Int64("bytes", info.Bytes), zap.Int("files", info.Files))
	return info, nil
}

// restore replaces the local profile with the tenant's newest snapshot when
// the local one is older (or missing). A tenant never snapshot keeps what
// this node has.
func (n *Node) restore(ctx context.Context, id string) error {
	t, err := n.cfg.Store.GetTenant(id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return nil // a new tenant: Link creates it
	}
	if err != nil {
		return err
	}
	if t.SnapshotAt.IsZero() {
		return nil
	}
	dir, err := n.cfg.Store.ProfileDir(id)
	if err != nil {
		return err
	}
	if local := readMarker(dir); !local.Before(t.SnapshotAt) {
		return nil
	}
	start := n.cfg.Now()
	info, err := n.cfg.Snapshots.Restore(ctx, id, dir)
	if errors.Is(err, snapshot.ErrNotFound) {
		n.log.Warn("the tenant's snapshot is missing: starting with the local profile", zap.String("tenant", id))
		return nil
	}
	if err != nil {
		return fmt.Errorf("restoring the profile snapshot: %w", err)
	}
	n.log.Info("profile restored from its snapshot", zap.String("tenant", id), zap.Time("snapshot_at", info.TakenAt),
		zap.Int64("bytes", info.Bytes), zap.Duration("took", n.cfg.Now().Sub(start)))
	// Messages clicked after the snapshot cannot be looked up on the
	// restored page: they end UNCONFIRMED, never clicked again. Before the
	// marker: a failure here restores (and asks) again at the next claim.
	if _, err := n.sup.Restored(id, info.TakenAt); err != nil {
		return fmt.Errorf("ending messages clicked after the snapshot: %w", err)
	}
	return writeMarker(dir, info.TakenAt)
}

// The marker beside a profile dir (<dir>.snapshot) records the snapshot the
// local profile was last uploaded as or restored from.
func markerPath(dir string) string { return strings.TrimRight(dir, "/") + ".snapshot" }

func readMarker(dir string) time.Time {
	b, err := os.ReadFile(markerPath(dir))
	if err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}
	}
	return t
}

func writeMarker(dir string, at time.Time) error {
	if err := os.WriteFile(markerPath(dir), []byte(at.UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording the local snapshot time: %w", err)
	}
	return nil
}
