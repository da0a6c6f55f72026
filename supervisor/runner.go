package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// runner owns one tenant's browser. Only its goroutine (run) touches the
// fields below the mutex-guarded snapshot.
type runner struct {
	id     string
	s      *Supervisor
	log    *zap.Logger
	ctx    context.Context // ends with the daemon or a Logout
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned and the browser is closed
	reqs   chan func()   // closures run on the runner goroutine
	kick   chan struct{} // cap 1: the outbox has work or the browser is wanted
	wantCh chan struct{} // cap 1: start the browser

	mu      sync.Mutex // guards snap and failErr
	snap    Session
	failErr error // why the session is FAILED: wraps ErrSessionFailed or ErrProfileLocked

	// Owned by the runner goroutine.
	lock      *sessionstore.ProfileLock
	br        Browser
	page      Page
	events    chan waweb.Event
	stopWatch context.CancelFunc
	watchDone chan struct{}
	policy    RestartPolicy
	slot      bool      // holds a launch slot taken by the warm-up, until its first start
	wantUp    bool      // the browser should run
	startAt   time.Time // no start before this (backoff, cool-down)
	loadedAt  time.Time // when the page last booted (QR series start)
	useHereAt time.Time // last click on "Use here"
	memAt     time.Time // last memory sample
	lastUsed  time.Time // last send, link or start: idle hibernation counts from it
	link      *linkAttempt
	sendAt    time.Time // pacing: no send before this
	retryAt   time.Time // backoff after a transient send failure
}

func newRunner(s *Supervisor, id string, wantUp bool) *runner {
	ctx, cancel := context.WithCancel(s.ctx)
	r := &runner{
		id:     id,
		s:      s,
		log:    s.log.With(zap.String("tenant", id)),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		reqs:   make(chan func()),
		kick:   make(chan struct{}, 1),
		wantCh: make(chan struct{}, 1),
		policy: s.cfg.Restart,
		wantUp: wantUp,
		events: make(chan waweb.Event, 16),
	}
	r.snap = Session{TenantID: id, State: StateUnlinked}
	if wantUp {
		r.snap.State = StateStarting
	}
	return r
}

// wake asks the runner to start its browser (if stopped) and look at its
// outbox. It never blocks.
func (r *runner) wake() {
	select {
	case r.wantCh <- struct{}{}:
	default:
	}
}

// poke tells the runner its outbox has work. It never blocks.
func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// do runs f on the runner goroutine and returns its error.
func (r *runner) do(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	select {
	case r.reqs <- func() { errc <- f() }:
	case <-r.done:
		return fmt.Errorf("tenant %q: %w", r.id, ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-r.done:
		return fmt.Errorf("tenant %q: %w", r.id, ErrUnavailable)
	}
}

func (r *runner) snapshot() Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

// update changes the snapshot and reports a state change.
func (r *runner) update(f func(*Session)) {
	r.mu.Lock()
	before := r.snap.State
	f(&r.snap)
	after := r.snap
	r.mu.Unlock()
	if after.State != before {
		r.log.Info("session state", zap.Stringer("from", before), zap.Stringer("to", after.State), zap.String("last_error", after.LastError))
		if r.s.cfg.OnChange != nil {
			r.s.cfg.OnChange(after)
		}
	}
}

func (r *runner) setState(st State, lastError string) {
	r.update(func(s *Session) {
		s.State = st
		if lastError != "" {
			s.LastError = lastError
		}
	})
}

func (r *runner) state() State { return r.snapshot().State }

// failed returns why the session is FAILED, or nil.
func (r *runner) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap.State != StateFailed {
		return nil
	}
	if r.failErr == nil {
		return fmt.Errorf("%s: %w", r.snap.LastError, ErrSessionFailed)
	}
	return r.failErr
}

// run is the runner's loop; it returns when the runner context ends, after
// closing the browser and releasing the profile lock.
func (r *runner) run() {
	defer close(r.done)
	defer r.shutdown()
	tick := time.NewTicker(r.s.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		r.maybeStart()
		var browserDone <-chan struct{}
		var startDue <-chan time.Time // a restart after its backoff, not at the next tick
		var startTimer *time.Timer
		if r.br != nil {
			browserDone = r.br.Done()
		} else if r.wantUp {
			startTimer = time.NewTimer(time.Until(r.startAt))
			startDue = startTimer.C
		}
		select {
		case <-r.ctx.Done():
			return
		case f := <-r.reqs:
			f()
		case <-r.wantCh:
			r.want()
		case <-r.kick:
			r.trySend()
		case <-startDue:
		case <-browserDone:
			r.browserDied(fmt.Errorf("browser exited: %v", r.br.ExitErr()))
		case ev := <-r.events:
			r.pageEvent(ev)
		case <-tick.C:
			r.sampleMemory()
			r.checkIdle()
			if r.link != nil {
				r.pollLink()
			} else {
				r.probe()
			}
			if r.snapshot().Queued > 0 { // pacing or a backoff ended; new messages poke
				r.trySend()
			}
		}
		if startTimer != nil {
			startTimer.Stop()
		}
	}
}

// want marks the browser as wanted; a FAILED tenant waits for its cool-down
// unless reset.
func (r *runner) want() {
	if !r.wantUp {
		r.wantUp = true
	}
	r.trySend()
}

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
			// Again after a second and a random part of one, so that two
			// tenants waiting for room do not meet at the same moments.
			r.startAt = time.Now().Add(time.Second + rand.N(time.Second))
			r.update(func(s *Session) { s.LastError = err.Error() })
			return
		}
		r.browserDied(err)
	}
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
	} else {
		select {
		case r.s.launch <- struct{}{}:
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
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
	go func(p Page, done chan struct{}) {
		defer close(done)
		_ = p.Watch(wctx, r.events)
	}(r.page, r.watchDone)
	r.memAt = time.Time{}
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

// boot loads the app and classifies what it shows.
func (r *runner) boot(ctx context.Context) error {
	if err := r.page.Open(ctx); err != nil {
		return fmt.Errorf("loading %s: %w", r.s.cfg.TargetURL, err)
	}
	st, err := r.page.WaitBooted(ctx)
	if err != nil {
		return fmt.Errorf("waiting for the app to boot: %w", err)
	}
	r.loadedAt = time.Now()
	r.classify(st)
	return nil
}

// classify moves the session to the state the page shows.
func (r *runner) classify(st waweb.State) {
	switch st {
	case waweb.StateMain:
		if r.state() != StateReady {
			phone := r.pagePhone()
			r.markLinked(phone)
			r.setState(StateReady, "")
			r.update(func(s *Session) { s.LastError = "" })
			r.poke()
		}
	case waweb.StateLanding:
		switch r.state() {
		case StateLinking:
		case StateReady:
			r.loggedOut("logged out: the page shows the QR landing (removed on the phone or expired)")
		default:
			t, err := r.s.store.GetTenant(r.id)
			if err == nil && t.Linked {
				r.loggedOut("not linked any more: the page shows the QR landing")
			} else {
				r.setState(StateUnlinked, "")
			}
		}
	case waweb.StateConflict:
		if !r.useHereAt.IsZero() && time.Since(r.useHereAt) < 10*time.Second {
			r.fail("the account is open in another window and took over again after \"Use here\"")
			return
		}
		r.useHereAt = time.Now()
		r.log.Warn("the account is open in another window: clicking \"Use here\"")
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		if err := r.page.UseHere(ctx); err != nil {
			r.log.Warn("clicking Use here", zap.Error(err))
		}
	case waweb.StateUpdateBrowser:
		r.fail("WhatsApp Web refused this browser (it asks to update Chrome): check the user agent")
	}
}

func (r *runner) pagePhone() string {
	ctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
	defer cancel()
	return r.page.LinkedPhone(ctx)
}

func (r *runner) markLinked(phone string) {
	t, err := r.s.store.UpdateTenant(r.id, func(t *sessionstore.Tenant) {
		t.Linked = true
		if phone != "" {
			t.Phone = phone
		}
		t.LastError = ""
	})
	if err != nil {
		r.log.Warn("storing the link", zap.Error(err))
		return
	}
	r.update(func(s *Session) { s.Phone = t.Phone })
}

func (r *runner) loggedOut(why string) {
	if _, err := r.s.store.UpdateTenant(r.id, func(t *sessionstore.Tenant) {
		t.Linked = false
		t.LastError = why
	}); err != nil {
		r.log.Warn("storing the logout", zap.Error(err))
	}
	r.setState(StateUnlinked, why)
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
func (r *runner) stopBrowser(lastExit string) {
	if r.br == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 15*time.Second)
	defer cancel()
	if err := r.br.Stop(ctx); err != nil {
		r.log.Warn("stopping the browser", zap.Error(err))
	}
	r.stopWatch()
	<-r.watchDone
	r.br, r.page = nil, nil
	r.s.releaseWarm(r.id)
drain:
	for {
		select {
		case <-r.events: // stale events of the old page
		default:
			break drain
		}
	}
	r.update(func(s *Session) {
		s.Running, s.PID, s.StartedAt, s.MemoryBytes = false, 0, time.Time{}, 0
		s.LastExit = lastExit
	})
}

// pageEvent reacts to what the page's watcher saw.
func (r *runner) pageEvent(ev waweb.Event) {
	if r.page == nil {
		return
	}
	switch ev.Kind {
	case waweb.EventCrashed:
		r.log.Warn("renderer crashed: loading the app again")
		r.update(func(s *Session) { s.Restarts++; s.LastExit = "renderer crashed" })
		ctx, cancel := context.WithTimeout(r.ctx, r.s.cfg.BootTimeout)
		defer cancel()
		// The first navigation after a renderer crash is often aborted
		// (net::ERR_ABORTED, measured): try twice before restarting Chrome.
		err := r.boot(ctx)
		if err != nil && ctx.Err() == nil {
			err = r.boot(ctx)
		}
		if err != nil {
			r.browserDied(fmt.Errorf("reload after a renderer crash: %w", err))
		}
	case waweb.EventLoggedOut:
		if r.state() == StateReady {
			r.loggedOut("logged out remotely (the page went to post_logout)")
		}
	}
}

// probe checks that the page answers and shows what the state says.
func (r *runner) probe() {
	if r.page == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.s.cfg.ProbeTimeout)
	st, err := r.page.State(ctx)
	cancel()
	if r.ctx.Err() != nil {
		return
	}
	if err != nil {
		r.browserDied(fmt.Errorf("page stopped answering: %w", err))
		return
	}
	switch st {
	case waweb.StateBooting, waweb.StateUnknown:
		return // a navigation in progress
	}
	r.classify(st)
}

// markUsed records a use of the tenant for idle hibernation and the least
// recently used choice.
func (r *runner) markUsed() {
	r.lastUsed = time.Now()
	r.s.used(r.id)
}

func (r *runner) sampleMemory() {
	if r.br == nil || time.Since(r.memAt) < r.s.cfg.MemorySampleEvery {
		return
	}
	r.memAt = time.Now()
	pss, err := r.br.PSS()
	if err != nil {
		return
	}
	r.update(func(s *Session) { s.MemoryBytes = pss })
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
}

func (p *RestartPolicy) coolDown() time.Duration {
	p.defaults()
	return p.CoolDown
}
