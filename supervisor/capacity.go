package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Capacity: at most MaxWarm browsers run. A runner about to launch takes a
// warm slot; when none is free, the least recently used idle READY tenant
// is hibernated (browser closed gracefully, profile kept) to make room.
// Idle tenants hibernate by themselves after IdleHibernate, and a browser
// grown past MaxBrowserMemory is restarted at its next idle moment.
//
// Lock order: a runner asks the Supervisor (s.mu) for a warm slot and,
// without holding s.mu, asks the victim's runner to hibernate (victim.do).
// Only runners with no browser ask; only runners with a browser are
// victims; so no two runners wait for each other. The launch semaphore
// (s.launch) is taken only after the warm slot, and released before any
// wait on another runner: a victim recycled for memory that restarts at
// once waits for a launch slot, so a runner holding one while it waits for
// that victim would deadlock.

// errNoCapacity: every warm slot is taken by a busy tenant.
var errNoCapacity = errors.New("no free browser slot: every warm tenant is busy")

// acquireWarm takes a warm slot for r, hibernating another tenant when
// needed; beforeWait runs before the first wait on another runner.
func (s *Supervisor) acquireWarm(ctx context.Context, r *runner, beforeWait func()) error {
	if s.cfg.MaxWarm <= 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		if _, ok := s.warm[r.id]; ok || len(s.warm) < s.cfg.MaxWarm {
			s.warm[r.id] = time.Now()
			s.mu.Unlock()
			return nil
		}
		var victim *runner
		var oldest time.Time
		for id, used := range s.warm {
			v := s.runners[id]
			if v == nil || v == r || !v.idle() {
				continue
			}
			if victim == nil || used.Before(oldest) {
				victim, oldest = v, used
			}
		}
		s.mu.Unlock()
		if victim == nil || attempt >= 3 {
			return fmt.Errorf("tenant %q: %w (--max-warm %d)", r.id, errNoCapacity, s.cfg.MaxWarm)
		}
		beforeWait()
		s.log.Info("hibernating the least recently used tenant to make room",
			zap.String("tenant", victim.id), zap.String("for", r.id), zap.Int("max_warm", s.cfg.MaxWarm))
		err := victim.do(ctx, func() error {
			if !victim.idleNow() {
				return nil // it got busy meanwhile: look again
			}
			victim.hibernate("to make room for " + r.id)
			return nil
		})
		if err != nil && ctx.Err() != nil {
			return err
		}
	}
}

// releaseWarm frees r's warm slot.
func (s *Supervisor) releaseWarm(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.warm, id)
}

// used records that a tenant was just used (least recently used order).
func (s *Supervisor) used(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.warm[id]; ok {
		s.warm[id] = time.Now()
	}
}

// idle says, from the published snapshot, whether the tenant is READY with
// nothing to send: a candidate for hibernation.
func (r *runner) idle() bool {
	s := r.snapshot()
	return s.State == StateReady && s.Queued == 0
}

// idleNow is idle checked on the runner goroutine, with the outbox.
func (r *runner) idleNow() bool {
	if r.br == nil || r.link != nil || r.state() != StateReady {
		return false
	}
	n, err := r.s.store.QueueDepth(r.id)
	return err == nil && n == 0
}

// hibernate closes the browser of an idle READY tenant; the next Send or
// Link wakes it (runner goroutine).
func (r *runner) hibernate(why string) {
	r.log.Info("hibernating", zap.String("why", why))
	r.stopBrowser("hibernated: " + why)
	r.wantUp = false
	r.setState(StateHibernated, "")
}

// checkIdle hibernates an idle tenant after IdleHibernate and recycles a
// browser that grew past MaxBrowserMemory (runner goroutine, on the tick).
func (r *runner) checkIdle() {
	cfg := r.s.cfg
	if r.br == nil || !r.idleNow() {
		return
	}
	if cfg.IdleHibernate > 0 && time.Since(r.lastUsed) > cfg.IdleHibernate {
		r.hibernate(fmt.Sprintf("idle for %v", cfg.IdleHibernate))
		return
	}
	if mem := r.snapshot().MemoryBytes; cfg.MaxBrowserMemory > 0 && mem > cfg.MaxBrowserMemory {
		r.log.Info("recycling a browser past its memory bound", zap.Uint64("pss", mem), zap.Uint64("max", cfg.MaxBrowserMemory))
		r.stopBrowser(fmt.Sprintf("recycled: %d MB over --max-browser-memory", mem>>20))
		r.update(func(s *Session) { s.Recycles++ })
		// wantUp stays: the loop starts it again at once.
	}
}
