package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/sessionstore"
)

// The runner's browser: starting it (locks, slots, launch, boot), noticing
// its death and restarting it by the RestartPolicy, giving up (FAILED),
// stopping it, and its memory. All on the runner goroutine.

// maybeStart launches the browser when it is wanted, absent and due.
func (r *runner) maybeStart() {
	if r.br != nil || !r.wantUp || r.ctx.Err() != nil || time.Now().Before(r.startAt) {
		return
	}
	if err := r.start(); err != nil {
		if errors.Is(err, sessionstore.ErrLocked) {
			// Another daemon runs this profile: never touch it; no retry
			// until a Link asks again.
			r.failWith(err)
			r.wantUp = false
			return
		}
		if r.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errNoCapacity) {
			r.noCapacity++
			if r.link != nil && r.noCapacity >= noCapacityLinkTries {
				r.endLink(fmt.Errorf("tenant %q: %w", r.id, err))
			}
			// Again after a second and a random part of one, so that two
			// tenants waiting for room do not meet at the same moments.
			r.startAt = time.Now().Add(time.Second + rand.N(time.Second))
			r.update(func(s *Session) { s.LastError = err.Error() })
			return
		}
		r.browserDied(err)
		return
	}
	r.noCapacity = 0
}

// start launches Chrome on the tenant's profile and boots the app.
func (r *runner) start() error {
	cfg := r.s.cfg
	started := time.Now()
	if r.state() != StateRestarting {
		r.setState(StateStarting, "")
	}
	// The warm slot first, the launch slot second: making room may wait for
	// another runner to hibernate, and that runner may itself be waiting for
	// a launch slot (a browser recycled for memory restarts at once). A
	// runner never waits on another while it holds a launch slot.
	err := r.s.acquireWarm(r.ctx, r, func() {
		if r.slot { // the warm-up's slot, handed to us: give it back before waiting
			r.slot = false
			<-r.s.launch
		}
	})
	if err != nil {
		return err
	}
	defer func() {
		if r.br == nil { // no browser came of it: free the warm slot
			r.s.releaseWarm(r.id)
		}
	}()
	if r.slot {
		r.slot = false // taken for us by the warm-up
	} else if err := r.s.takeLaunch(r.ctx); err != nil {
		return err
	}
	defer func() { <-r.s.launch }()
	store := r.s.store
	if r.lock == nil {
		if err := store.EnsureDirs(r.id); err != nil {
			return err
		}
		l, err := store.LockProfile(r.id)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", r.id, err)
		}
		r.lock = l
	}
	profile, err := store.ProfileDir(r.id)
	if err != nil {
		return err
	}
	// No browser runs on the profile now (the launcher stops orphans before
	// it starts one): drop the caches Chrome rebuilds, so profiles do not
	// grow without bound (the login is kept).
	if killed, err := browserpool.KillOrphans(profile); err != nil {
		return fmt.Errorf("stopping an orphaned browser: %w", err)
	} else if len(killed) > 0 {
		r.log.Warn("stopped a browser left on the profile", zap.Ints("pids", killed))
	}
	if freed, err := store.TrimProfile(r.id); err != nil {
		r.log.Warn("trimming the profile", zap.Error(err))
	} else if freed > 0 {
		r.log.Info("profile trimmed", zap.Int64("freed_bytes", freed))
	}
	cache, err := store.CacheDir(r.id)
	if err != nil {
		return err
	}
	tmp, err := store.TmpDir(r.id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, cfg.BootTimeout)
	defer cancel()
	br, err := cfg.Launcher.Launch(ctx, LaunchSpec{Tenant: r.id, ProfileDir: profile, CacheDir: cache, TmpDir: tmp})
	if err != nil {
		return err
	}
	r.lastUsed = time.Now()
	r.br = br
	r.page = br.Page()
	wctx, stop := context.WithCancel(r.ctx)
	r.stopWatch, r.watchDone = stop, make(chan struct{})
	go func(br Browser, done chan struct{}) {
		defer close(done)
		// A watcher that ends before it is stopped saw the tab or the
		// browser go (target detached): tell the loop, which knows whether
		// that browser is still its own.
		if err := br.Page().Watch(wctx, r.events); err != nil && wctx.Err() == nil {
			select {
			case r.watchEnd <- watchEnd{br, err}:
			default:
			}
		}
	}(br, r.watchDone)
	r.mem.set(br.PSS)
	r.update(func(s *Session) {
		s.Running, s.PID, s.StartedAt = true, br.PID(), br.StartedAt()
	})
	r.s.cfg.Observer.BrowserStarted(r.id)
	r.log.Info("browser started", zap.Int("pid", br.PID()), zap.Duration("launch", time.Since(started)))
	if err := r.boot(ctx); err != nil {
		return err
	}
	r.log.Info("page booted", zap.Stringer("state", r.state()), zap.Duration("since_start", time.Since(started)))
	return nil
}

// fail gives up on the browser until the cool-down ends or a Link resets it.
func (r *runner) fail(why string) {
	r.failWith(fmt.Errorf("%s: %w", why, ErrSessionFailed))
}

// failWith is fail with the cause's own class (ErrSessionFailed or
// ErrProfileLocked): Sends are refused with it and Link streams end with it.
func (r *runner) failWith(cause error) {
	r.update(func(*Session) { r.failErr = cause })
	r.stopBrowser("failed: " + cause.Error())
	r.startAt = time.Now().Add(r.policy.coolDown())
	r.setState(StateFailed, cause.Error())
	r.endLink(fmt.Errorf("tenant %q: %w", r.id, cause))
	r.log.Error("session failed", zap.Error(cause))
}

// browserDied handles the death of the browser (or a failed start).
func (r *runner) browserDied(cause error) {
	var started time.Time
	exit := cause.Error()
	if r.br != nil {
		started = r.br.StartedAt()
		if err := r.br.ExitErr(); err != nil {
			exit = err.Error()
		}
	}
	r.stopBrowser(exit)
	if r.ctx.Err() != nil {
		return
	}
	r.s.cfg.Observer.BrowserDied(r.id)
	now := time.Now()
	if started.IsZero() {
		started = now
	}
	d := r.policy.Died(started, now)
	r.update(func(s *Session) { s.Restarts++ })
	if d.Failed {
		r.failWith(fmt.Errorf("crash loop: %d deaths within %v; last: %v: %w", r.policy.CrashLoop, r.policy.CrashWindow, cause, ErrSessionFailed))
		r.startAt = now.Add(d.Delay)
		return
	}
	r.startAt = now.Add(d.Delay)
	r.setState(StateRestarting, cause.Error())
	r.log.Warn("browser died; restarting", zap.Duration("in", d.Delay), zap.Error(cause))
}

// stopBrowser closes the browser (gracefully when it still runs) and forgets it.
// It records in notAtRest whether the profile was left by a graceful close:
// not when the browser had died on its own, nor when the stop ladder had to
// kill it (browserpool.ErrStopForced) or did not end in time.
func (r *runner) stopBrowser(lastExit string) {
	if r.br == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.s.cfg.browserStop())
	defer cancel()
	died := false
	select {
	case <-r.br.Done():
		died = true
	default:
	}
	err := r.br.Stop(ctx)
	switch {
	case died:
		r.notAtRest = fmt.Errorf("the browser ended on its own (%s)", lastExit)
	case err != nil:
		r.notAtRest = err
		r.log.Warn("stopping the browser", zap.Error(err))
	default:
		r.notAtRest = nil
	}
	r.stopWatch()
	<-r.watchDone
	r.br, r.page = nil, nil
	r.mem.set(nil)
	r.s.releaseWarm(r.id)
drain:
	for {
		select {
		case <-r.events: // stale events of the old page
		case <-r.watchEnd:
		default:
			break drain
		}
	}
	r.update(func(s *Session) {
		s.Running, s.PID, s.StartedAt = false, 0, time.Time{}
		s.LastExit = lastExit
	})
}

// markUsed records a use of the tenant for idle hibernation and the least
// recently used choice.
func (r *runner) markUsed() {
	r.lastUsed = time.Now()
	r.s.used(r.id)
}

// shutdown ends link streams and closes the browser; it runs as run returns.
func (r *runner) shutdown() {
	if r.slot {
		r.slot = false
		<-r.s.launch // never started: give the warm-up slot back
	}
	r.endLink(fmt.Errorf("tenant %q: daemon stopping: %w", r.id, ErrUnavailable))
	r.stopBrowser("stopped")
	if r.lock != nil {
		if err := r.lock.Unlock(); err != nil {
			r.log.Warn("releasing the profile lock", zap.Error(err))
		}
		r.lock = nil
	}
	r.flushChanges()
	if n := len(r.unlogged); n > 0 {
		r.log.Error("session changes not logged: the store refused them until the runner stopped", zap.Int("changes", n),
			zap.Time("failing_since", r.unloggedSince))
	}
}

func (p *RestartPolicy) coolDown() time.Duration {
	p.defaults()
	return p.CoolDown
}
