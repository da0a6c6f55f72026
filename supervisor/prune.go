package supervisor

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// Prune deletes (as Logout does) the tenants inactive for longer than
// inactiveFor: no Send, Link or start since. A tenant with messages waiting
// is kept. With dryRun it deletes nothing and returns what it would delete.
func (s *Supervisor) Prune(ctx context.Context, inactiveFor time.Duration, dryRun bool) ([]string, error) {
	if err := s.waitStarted(ctx); err != nil {
		return nil, err
	}
	tenants, err := s.store.ListTenants()
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-inactiveFor)
	var out []string
	for _, t := range tenants {
		last := t.LastActive
		if last.IsZero() {
			last = t.CreatedAt
		}
		if !last.Before(cutoff) {
			continue
		}
		if n, err := s.store.QueueDepth(t.ID); err != nil || n > 0 {
			continue
		}
		if !dryRun {
			err := s.Logout(ctx, t.ID)
			if errors.Is(err, ErrNotHolder) {
				continue // cluster mode: the node holding it prunes it
			}
			if err != nil {
				return out, err
			}
			s.log.Info("pruned an inactive tenant", zap.String("tenant", t.ID), zap.Time("last_active", last))
		}
		out = append(out, t.ID)
	}
	return out, nil
}

// housekeeping runs at start and hourly until ctx ends: it removes the
// finished messages older than the outbox's retention (7 days by default,
// with their idempotency keys), and prunes inactive tenants when
// PruneInactive is set.
func (s *Supervisor) housekeeping(ctx context.Context) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := s.store.PurgeExpired(); err != nil {
			s.log.Warn("purging expired messages", zap.Error(err))
		} else if n > 0 {
			s.log.Info("purged expired messages", zap.Int("messages", n))
		}
		s.purgeEvents()
		if s.cfg.PruneInactive > 0 {
			if _, err := s.Prune(ctx, s.cfg.PruneInactive, false); err != nil && ctx.Err() == nil {
				s.log.Warn("pruning inactive tenants", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
