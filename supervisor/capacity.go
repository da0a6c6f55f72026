package supervisor

import (
	"context"
	"fmt"
	"maps"
	"time"

	"go.uber.org/zap"
)

// Capacity: at most MaxWarm browsers run. A runner about to launch takes a
// warm slot; when none is free, the least recently used idle READY tenant
// is hibernated (browser closed gracefully, profile kept) to make room.
// Idle tenants hibernate by themselves after IdleHibernate, and a browser
// grown past MaxBrowserMemory is restarted at its next idle moment.
//
// Lock order: a runner asks the Supervisor (warmMu) for a warm slot and,
// holding no lock, asks the victim's runner to hibernate (victim.do).
// Only runners with no browser ask; only runners with a browser are
// victims; so no two runners wait for each other. The launch semaphore
// (s.launch) is taken only after the warm slot, and released before any
// wait on another runner: a victim recycled for memory that restarts at
// once waits for a launch slot, so a runner holding one while it waits for
// that victim would deadlock.

// errNoCapacity: every warm slot is taken by a busy tenant.
var errNoCapacity = fmt.Errorf("every warm tenant is busy: %w", ErrNoCapacity)

// noCapacityLinkTries is how many starts a Link waits through, each refused
// for lack of a warm slot, before its stream ends with ErrNoCapacity: a
// person is waiting for a QR code.
const noCapacityLinkTries = 3

// acquireWarm takes a warm slot for r, hibernating another tenant when
// needed; beforeWait runs before the first wait on another runner.
func (s *Supervisor) acquireWarm(ctx context.Context, r *runner, beforeWait func()) error {
	if s.cfg.MaxWarm <= 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		s.warmMu.Lock()
		if _, ok := s.warm[r.id]; ok || len(s.warm) < s.cfg.MaxWarm {
			s.warm[r.id] = time.Now()
			s.warmMu.Unlock()
			return nil
		}
		holders := maps.Clone(s.warm)
		s.warmMu.Unlock()
		var victim *runner
		var oldest time.Time
		for id, used := range holders {
			v := s.existingRunner(id)
			if v == nil || v == r || !v.idle() {
				continue
			}
			if victim == nil || used.Before(oldest) {
				victim, oldest = v, used
			}
		}
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
	s.warmMu.Lock()
	defer s.warmMu.Unlock()
	delete(s.warm, id)
}

// used records that a tenant was just used (least recently used order).
func (s *Supervisor) used(id string) {
	s.warmMu.Lock()
	defer s.warmMu.Unlock()
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
// browser that grew past MaxBrowserMemory by its last reading (watchMemory
// reads it every MemorySampleEvery): runner goroutine, on the tick. It
// reads the outbox only when one of the two is due.
func (r *runner) checkIdle() {
	cfg := r.s.cfg
	if r.br == nil {
		return
	}
	sleepy := cfg.IdleHibernate > 0 && time.Since(r.lastUsed) > cfg.IdleHibernate
	mem := r.mem.last()
	big := cfg.MaxBrowserMemory > 0 && mem > cfg.MaxBrowserMemory
	if !sleepy && !big || !r.idleNow() {
		return
	}
	if sleepy {
		r.hibernate(fmt.Sprintf("idle for %v", cfg.IdleHibernate))
		return
	}
	r.log.Info("recycling a browser past its memory bound", zap.Uint64("pss", mem), zap.Uint64("max", cfg.MaxBrowserMemory))
	r.stopBrowser(fmt.Sprintf("recycled: %d MB over --max-browser-memory", mem>>20))
	r.update(func(s *Session) { s.Recycles++ })
	// wantUp stays: the loop starts it again at once.
}

// saturatedBusy is the CPU share above which a browser start waits for the
// ones in flight: starting Chrome and booting the app is CPU-bound, and
// starts that compete for a saturated CPU all finish later.
const saturatedBusy = 0.9

// takeLaunch takes a launch slot (at most WarmParallel browsers start at
// once). It adapts to the load: while the machine's CPUs are saturated and
// another browser is already starting, it waits, so one start runs at a
// time until the CPUs have room again. It never waits on a runner.
func (s *Supervisor) takeLaunch(ctx context.Context) error {
	for {
		select {
		case s.launch <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if len(s.launch) == 1 || !s.saturated() {
			return nil
		}
		<-s.launch // give it back while the others use the CPU
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// saturated says whether the CPUs were busier than saturatedBusy lately.
func (s *Supervisor) saturated() bool {
	busy, err := s.cfg.CPUBusy()
	return err == nil && busy >= saturatedBusy
}
