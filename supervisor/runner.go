package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

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

	// pub is the latest published view of the tenant: the runner goroutine
	// owns snap and failErr and publishes a copy after each change; other
	// goroutines only load pub. No lock.
	pub atomic.Pointer[published]
	// mem is the browser's memory (memory.go): the runner sets its reader
	// as the browser starts and stops; any goroutine reads it, under its
	// own lock.
	mem browserMemory

	// Owned by the runner goroutine.
	snap       Session
	failErr    error // why the session is FAILED: wraps ErrSessionFailed or ErrProfileLocked
	lock       *sessionstore.ProfileLock
	br         Browser
	page       Page
	events     chan waweb.Event
	stopWatch  context.CancelFunc
	watchDone  chan struct{}
	watchEnd   chan watchEnd // the page watcher ended on its own (the tab is gone)
	policy     RestartPolicy
	slot       bool      // holds a launch slot taken by the warm-up, until its first start
	wantUp     bool      // the browser should run
	startAt    time.Time // no start before this (backoff, cool-down)
	loadedAt   time.Time // when the page last booted (QR series start)
	useHereAt  time.Time // last click on "Use here"
	lastUsed   time.Time // last send, link or start: idle hibernation counts from it
	link       *linkAttempt
	sendAt     time.Time     // pacing: no send before this
	retryAt    time.Time     // backoff after a transient send failure
	probedAt   time.Time     // the page last answered a probe
	checkedAt  time.Time     // the last self-check (contract.go)
	contract   *contractHold // the page contract is broken: the queue is held
	noCapacity int           // starts refused in a row for lack of a warm slot
	notAtRest  error         // the last browser ended without a graceful close (browser.go); Release reports it
	// unlogged: session changes whose store part (event, record) is not
	// committed yet, oldest first (events.go flushChanges); unloggedSince:
	// when the first of them failed (zero: none failed).
	unlogged      []pendingChange
	unloggedSince time.Time
}

// published is what other goroutines see of a runner.
type published struct {
	Session
	failErr error
}

// watchEnd reports that the watcher of browser br ended with err.
type watchEnd struct {
	br  Browser
	err error
}

func newRunner(s *Supervisor, id string, wantUp bool) *runner {
	ctx, cancel := context.WithCancel(s.ctx)
	r := &runner{
		id:       id,
		s:        s,
		log:      s.log.With(zap.String("tenant", id)),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		reqs:     make(chan func()),
		kick:     make(chan struct{}, 1),
		wantCh:   make(chan struct{}, 1),
		policy:   s.cfg.Restart,
		wantUp:   wantUp,
		events:   make(chan waweb.Event, 16),
		watchEnd: make(chan watchEnd, 1),
	}
	r.snap = Session{TenantID: id, State: StateUnlinked}
	if wantUp {
		r.snap.State = StateStarting
	}
	r.pub.Store(&published{Session: r.snap})
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

// snapshot is the latest published Session; any goroutine.
func (r *runner) snapshot() Session { return r.pub.Load().Session }

// update changes the session (runner goroutine), publishes it and reports a
// state change; the change's event is committed to the log (events.go).
func (r *runner) update(f func(*Session)) { r.commit(nil, nil, f) }

// commit is update that also changes the tenant's stored record with
// stored (nil: no change), in the transaction of the change's event, and
// then calls done (nil: none) with the record as stored. The store's part
// is committed first, then the session is published to the other
// goroutines; when the store refuses it, the session is published all the
// same (it is the runner's state) and the store's part is retried, in
// order, until it commits (flushChanges).
func (r *runner) commit(stored func(*sessionstore.Tenant), done func(sessionstore.Tenant), f func(*Session)) {
	before, contractBefore := r.snap.State, r.snap.PageContract
	f(&r.snap)
	after := r.snap
	changed := after.State != before || after.PageContract != contractBefore
	if changed || stored != nil {
		c := pendingChange{tenant: stored, done: done}
		if changed {
			c.event = sessionEventOf(before, after)
		}
		r.unlogged = append(r.unlogged, c)
		r.flushChanges()
	}
	// Published after the commit: a Status that shows the new state also
	// shows the record's change (Linked), and the event is in the log.
	r.pub.Store(&published{Session: after, failErr: r.failErr})
	if changed {
		r.log.Info("session state", zap.Stringer("from", before), zap.Stringer("to", after.State), zap.String("last_error", after.LastError),
			zap.String("page_contract", after.PageContract))
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

// state is the session's state (runner goroutine).
func (r *runner) state() State { return r.snap.State }

// failed returns why the session is FAILED, or nil; any goroutine.
func (r *runner) failed() error {
	p := r.pub.Load()
	if p.State != StateFailed {
		return nil
	}
	if p.failErr == nil {
		return fmt.Errorf("%s: %w", p.LastError, ErrSessionFailed)
	}
	return p.failErr
}

// run is the runner's loop; it returns when the runner context ends, after
// closing the browser and releasing the profile lock.
//
// What wakes it: a request (do), a Send (kick) or a wish for the browser
// (wantCh); the browser's exit and the page watcher's events and end (free:
// no polling); a due restart; the end of pacing or of a send backoff while
// messages wait; the link poll while a Link runs; and the idle tick
// (ProbeInterval, 5 s by default), which checks for idleness (hibernation,
// the memory bound), runs the self-check when due and probes the page. A
// page operation is preceded by its own probe. Memory is read when asked
// (memory.go), not on this tick.
func (r *runner) run() {
	defer close(r.done)
	defer r.shutdown()
	tick := time.NewTicker(r.s.cfg.ProbeInterval)
	defer tick.Stop()
	var due *time.Timer // the one timer of the loop: restart, send or link poll
	for {
		r.maybeStart()
		var browserDone <-chan struct{}
		var dueC <-chan time.Time
		if d, ok := r.nextDue(); ok {
			if due == nil {
				due = time.NewTimer(d)
			} else {
				due.Reset(d)
			}
			dueC = due.C
		}
		if r.br != nil {
			browserDone = r.br.Done()
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
		case <-dueC:
			switch {
			case r.br == nil:
				// a restart is due: maybeStart at the top
			case r.link != nil:
				r.pollLink()
			default:
				r.trySend()
			}
		case <-browserDone:
			r.browserDied(fmt.Errorf("browser exited: %v", r.br.ExitErr()))
		case ev := <-r.events:
			r.pageEvent(ev)
		case w := <-r.watchEnd:
			if w.br == r.br && r.br != nil {
				// The tab went away. When the whole browser is dying, its
				// exit (a signal, a crash) says more: give it a moment.
				t := time.NewTimer(time.Second)
				select {
				case <-r.br.Done():
					r.browserDied(fmt.Errorf("browser exited: %v", r.br.ExitErr()))
				case <-t.C:
					r.browserDied(fmt.Errorf("the page went away: %w", w.err))
				}
				t.Stop()
			}
		case <-tick.C:
			r.flushChanges()
			r.checkIdle()
			r.selfcheck()
			if r.link == nil && time.Since(r.probedAt) >= r.s.cfg.ProbeInterval/2 {
				r.probe()
			}
		}
		if due != nil {
			due.Stop() // Go 1.23 timers: no stale value after Stop or Reset
		}
	}
}

// linkPoll is how often a running Link reads the page for a new code or
// the main screen.
const linkPoll = 250 * time.Millisecond

// nextDue says when the loop must wake besides its events and idle tick.
func (r *runner) nextDue() (time.Duration, bool) {
	switch {
	case r.br == nil:
		if r.wantUp {
			return time.Until(r.startAt), true
		}
	case r.link != nil:
		return linkPoll, true
	case r.snap.Queued > 0 && r.snap.State == StateReady:
		// Pacing or a backoff ends; new messages kick.
		return time.Until(maxTime(r.sendAt, r.retryAt)), true
	}
	return 0, false
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// want marks the browser as wanted; a FAILED tenant waits for its cool-down
// unless reset.
func (r *runner) want() {
	if !r.wantUp {
		r.wantUp = true
	}
	r.trySend()
}
