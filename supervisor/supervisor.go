package supervisor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// Config configures a Supervisor. Zero values take the defaults named on each
// field.
type Config struct {
	Store   *sessionstore.Store // required
	Browser browserpool.Config  // how Chromium is launched (the default Launcher)
	// Launcher starts tenants' browsers; nil: Chromium through browserpool
	// (Browser) driven by waweb (TargetURL, Selectors). Unit tests give a fake.
	Launcher  Launcher
	TargetURL string          // required: https://web.whatsapp.com, or fakewa's address
	Selectors waweb.Selectors // zero value (no App selector): waweb.DefaultSelectors()
	Log       *zap.Logger     // nil: no logs
	// Media gives the runner a local copy of a message's file; required
	// only when messages carry files (nil: such a message fails).
	Media MediaFiles

	SendInterval time.Duration // least time between two sends of one tenant; 0: no pacing
	SendJitter   time.Duration // random extra wait up to this; 0: none
	MaxAttempts  int           // tries of one message before FAILED; 0: 5

	WarmParallel int // browsers launching at once, fewer while the CPUs are saturated; 0: 2
	// CPUBusy reports the machine's busy CPU share (0 to 1) lately; nil:
	// /proc/stat through browserpool.CPUMeter. Unit tests give their own.
	CPUBusy       func() (float64, error)
	MaxWarm       int           // browsers running at once; 0: no bound
	IdleHibernate time.Duration // an idle READY tenant hibernates after this; 0: never
	// MaxBrowserMemory restarts a browser whose process tree's PSS exceeds
	// it, at its next idle moment; 0: no bound.
	MaxBrowserMemory uint64
	// MemorySampleEvery is how long a reading of a browser's memory (PSS
	// of its process tree) serves: Status, ListSessions and metrics read
	// it when asked and the last reading is older; with MaxBrowserMemory,
	// every running browser's is read this often (memory.go); 0: 1m.
	MemorySampleEvery time.Duration
	// PruneInactive deletes tenants inactive for longer than this, checked
	// at start and hourly; 0: never.
	PruneInactive time.Duration
	// ProbeInterval is the period of the idle liveness probe (a page
	// operation probes first anyway; a dead browser or tab is noticed from
	// events at once); 0: 5s. A hung page is noticed within ProbeInterval +
	// ProbeTimeout.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration // a probe slower than this means the page hangs; 0: 1.5s
	BootTimeout   time.Duration // launch + app boot; 0: 60s
	SendTimeout   time.Duration // one attempt of one message; 0: 60s
	// StopTimeout is the budget of the supervisor's stop once Run's ctx
	// ends; 0: 20s. A send in flight may finish within 30 % of it, and the
	// browsers' graceful stop ladder (Browser.close, SIGINT, SIGKILL, each
	// rung a sixth) takes at most half: the two fit inside it, so the
	// daemon exits before its own --stop-timeout and Chrome is never left to
	// Pdeathsig (which loses the last cookies).
	StopTimeout time.Duration
	Restart     RestartPolicy // zero value: its documented defaults

	// Observer, when set, learns of browser starts and deaths and of
	// finished sends (for metrics).
	Observer Observer

	// OnChange, when set, is called with the new snapshot after a tenant's
	// state changes, and with State == StateUnknown after a Logout. It runs
	// on the runner's goroutine and must not block.
	OnChange func(Session)

	// Placement, in cluster mode, decides which tenants this daemon runs
	// (placement.go); nil: every tenant of Store.
	Placement Placement

	// EventRetention is how long the event log (WatchEvents, webhooks; see
	// events.go) keeps an event; older events are purged hourly with the
	// expired messages, except those a webhook has not delivered yet. 0:
	// 7 days.
	EventRetention time.Duration
	// EventUndeliveredMax is how long an event a webhook has not delivered
	// is kept at most (then purged, logged and counted); 0: 30 days; less
	// than EventRetention: EventRetention.
	EventUndeliveredMax time.Duration

	// ContractHoldMax is how long a tenant's queue is held while its page
	// does not match the page contract (contract.go) before its messages
	// end FAILED with reason PAGE_CONTRACT; 0: 6h.
	ContractHoldMax time.Duration
	// SelfcheckEvery is the period of the light, read-only doctor on a
	// warm, idle tenant (contract.go); 0: 15m; negative: off.
	SelfcheckEvery time.Duration
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	if c.Selectors.App == "" {
		c.Selectors = waweb.DefaultSelectors()
	}
	if c.CPUBusy == nil {
		c.CPUBusy = (&browserpool.CPUMeter{}).Busy
	}
	if c.ContractHoldMax <= 0 {
		c.ContractHoldMax = 6 * time.Hour
	}
	if c.SelfcheckEvery == 0 {
		c.SelfcheckEvery = 15 * time.Minute
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.WarmParallel <= 0 {
		c.WarmParallel = 2
	}
	if c.MemorySampleEvery <= 0 {
		c.MemorySampleEvery = time.Minute
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 1500 * time.Millisecond
	}
	if c.BootTimeout <= 0 {
		c.BootTimeout = 60 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 20 * time.Second
	}
	if c.Browser.StopTimeout <= 0 || 3*c.Browser.StopTimeout > c.browserStop() {
		c.Browser.StopTimeout = c.browserStop() / 3
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 60 * time.Second
	}
}

// sendGrace is how long a send in flight may go on once the daemon stops.
func (c *Config) sendGrace() time.Duration { return c.StopTimeout * 3 / 10 }

// browserStop bounds the stop of one browser (its whole ladder).
func (c *Config) browserStop() time.Duration { return c.StopTimeout / 2 }

// Observer learns of events for metrics. Its methods run on runner
// goroutines and must be cheap and never block.
type Observer interface {
	BrowserStarted(tenant string)
	// BrowserDied reports a browser that died or hung (not one the
	// supervisor stopped).
	BrowserDied(tenant string)
	// SendFinished reports one attempt at a message: how long it took and
	// the state it left the message in.
	SendFinished(tenant string, took time.Duration, state MessageState)
	// SendTextMismatch reports a message taken as sent by its new bubble,
	// whose text the driver did not recognize (a drawing it does not know).
	SendTextMismatch(tenant string)
	// PageContract reports a tenant's page no longer matching the page
	// contract at check (ok false), or matching it again (ok true).
	PageContract(tenant, check string, ok bool)
	// EventsPurged reports an hourly purge of the event log: what it
	// removed, what it kept for a webhook that has not delivered it, and
	// what it removed undelivered (past the hard cap).
	EventsPurged(r sessionstore.PurgeReport)
	// StaleRestore reports a restore of the tenant's profile from a
	// snapshot older than its last activity, by how much (cluster mode).
	StaleRestore(tenant string, behind time.Duration)
}

type nopObserver struct{}

func (nopObserver) BrowserStarted(string)                            {}
func (nopObserver) BrowserDied(string)                               {}
func (nopObserver) SendFinished(string, time.Duration, MessageState) {}
func (nopObserver) SendTextMismatch(string)                          {}
func (nopObserver) PageContract(string, string, bool)                {}
func (nopObserver) EventsPurged(sessionstore.PurgeReport)            {}
func (nopObserver) StaleRestore(string, time.Duration)               {}

// OutboxSize is the number of messages stored, pending or kept for
// idempotency.
func (s *Supervisor) OutboxSize() (int, error) { return s.store.OutboxSize() }

// Supervisor owns the runners of every tenant.
type Supervisor struct {
	cfg    Config
	store  *sessionstore.Store
	evlog  sessionLog // the store, where session changes are committed (events.go)
	log    *zap.Logger
	launch chan struct{} // semaphore: browsers launching at once

	started chan struct{} // closed by Run once ctx is set
	ctx     context.Context
	wg      sync.WaitGroup // runners

	// Each mutex guards the fields that follow it. None is held while
	// another is taken, nor while waiting on a runner or the store (the
	// lock order, with the launch semaphore, is in capacity.go).
	// sels holds the selectors in force, shared by every page; selGen
	// counts their reloads (SetSelectors).
	sels   *waweb.SelectorSet
	selGen atomic.Uint64

	runnersMu sync.Mutex
	runners   map[string]*runner
	closed    bool // Run is returning: no new runners

	waitersMu sync.Mutex
	waiters   map[string][]chan Message // message id → Send calls waiting for its end (cap 1)

	warmMu sync.Mutex
	warm   map[string]time.Time // tenants holding a warm slot → last use

	sizesMu sync.Mutex
	sizes   map[string]profileSize // profile sizes measured lately

	drainOnce sync.Once
	drainCh   chan struct{} // closed by Drain
}

// New returns a Supervisor; Run starts it.
func New(cfg Config) *Supervisor {
	cfg.defaults()
	sels, err := waweb.NewSelectorSet(cfg.Selectors)
	if err != nil { // the daemon validates its selectors file first
		panic(fmt.Sprintf("supervisor: invalid selectors: %v", err))
	}
	if cfg.Launcher == nil {
		cfg.Launcher = chromeLauncher{cfg: cfg.Browser, targetURL: cfg.TargetURL, selectors: sels}
	}
	return &Supervisor{
		sels:    sels,
		cfg:     cfg,
		store:   cfg.Store,
		evlog:   cfg.Store,
		log:     cfg.Log,
		launch:  make(chan struct{}, cfg.WarmParallel),
		started: make(chan struct{}),
		runners: map[string]*runner{},
		waiters: map[string][]chan Message{},
		warm:    map[string]time.Time{},
		sizes:   map[string]profileSize{},
		drainCh: make(chan struct{}),
	}
}

// Run adopts old-layout profiles, starts a runner for every linked tenant
// (most recently active first; at most WarmParallel browsers launch at
// once) and blocks until ctx ends and every runner has closed its browser.
func (s *Supervisor) Run(ctx context.Context) error {
	s.ctx = ctx
	defer s.wg.Wait()

	s.adoptProfiles()
	close(s.started) // RPCs see the adopted tenants from here on
	tenants, err := s.store.ListTenants()
	if err != nil {
		return fmt.Errorf("listing tenants: %w", err)
	}
	if s.cfg.Placement == nil { // in cluster mode the cluster starts the tenants this node holds
		s.warmUp(ctx, tenants)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.watchMemory(ctx) })
	s.housekeeping(ctx)
	wg.Wait()
	s.runnersMu.Lock()
	s.closed = true // no runner starts after this: wg.Wait may begin
	s.runnersMu.Unlock()
	return nil
}

// adoptProfiles makes a linked tenant of every profile dir of the old
// layout (a Selenium-era chrome_data/). Not in cluster mode: a node's
// local profiles are copies of snapshots, and the tenants are in the
// shared store.
func (s *Supervisor) adoptProfiles() {
	if s.cfg.Placement != nil {
		return
	}
	adopted, err := s.store.DiscoverProfiles()
	if err != nil {
		s.log.Warn("looking for existing profiles", zap.Error(err))
	}
	now := time.Now()
	for _, id := range adopted {
		// A profile of the old layout may be linked: start it and let the
		// page tell.
		if err := s.store.PutTenant(sessionstore.Tenant{ID: id, Linked: true, CreatedAt: now, LastActive: now}); err != nil {
			s.log.Warn("adopting profile", zap.String("tenant", id), zap.Error(err))
			continue
		}
		s.log.Info("adopted an existing profile", zap.String("tenant", id))
	}
}

// warmUp starts the linked tenants' browsers, up to MaxWarm.
func (s *Supervisor) warmUp(ctx context.Context, tenants []sessionstore.Tenant) {
	// Warm up most recently active first: Run takes each launch slot in that
	// order and hands it to the runner, which frees it once its page booted.
	// RPCs are served meanwhile.
	warmed := 0
	for _, t := range tenants {
		if !t.Linked {
			continue
		}
		if s.cfg.MaxWarm > 0 && warmed >= s.cfg.MaxWarm {
			break // the rest stay HIBERNATED until a Send or Link wakes them
		}
		warmed++
		if err := s.takeLaunch(ctx); err != nil {
			break
		}
		if _, created := s.startRunner(t.ID, true, true); !created {
			<-s.launch // the runner existed already (an RPC made it), or Run is ending
		}
	}
}

// Drain makes every Send waiting for a result return at once with the
// message as stored (it stays queued for the next start) and refuses new
// Sends and Links with ErrUnavailable. Call it before stopping the gRPC
// server so that draining does not wait for the queues.
func (s *Supervisor) Drain() {
	s.drainOnce.Do(func() { close(s.drainCh) })
}

func (s *Supervisor) isDraining() bool {
	select {
	case <-s.drainCh:
		return true
	default:
		return false
	}
}

func (s *Supervisor) waitStarted(ctx context.Context) error {
	select {
	case <-s.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runnerFor returns the tenant's runner, starting one if there is none
// (in cluster mode after the Placement's Claim); ErrUnavailable once Run is
// ending. wantUp asks the runner to start its browser.
func (s *Supervisor) runnerFor(ctx context.Context, id string, wantUp bool) (*runner, error) {
	if r := s.existingRunner(id); r != nil {
		if wantUp {
			r.wake()
		}
		return r, nil
	}
	if p := s.cfg.Placement; p != nil {
		done, err := p.Claim(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", id, err)
		}
		// No move of the tenant until its runner is in the map.
		defer done()
		s.forgetSize(id) // Claim may have restored the profile
	}
	r, _ := s.startRunner(id, wantUp, false)
	if r == nil {
		return nil, fmt.Errorf("daemon stopping: %w", ErrUnavailable)
	}
	return r, nil
}

// startRunner is runnerFor that says whether it created the runner. With
// slot, a runner it creates owns a launch slot the caller already took and
// frees it after its first start.
func (s *Supervisor) startRunner(id string, wantUp, slot bool) (r *runner, created bool) {
	s.runnersMu.Lock()
	defer s.runnersMu.Unlock()
	if r, ok := s.runners[id]; ok {
		if wantUp {
			r.wake()
		}
		return r, false
	}
	if s.closed {
		return nil, false
	}
	r = newRunner(s, id, wantUp)
	r.slot = slot
	s.runners[id] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run()
	}()
	return r, true
}

func (s *Supervisor) existingRunner(id string) *runner {
	s.runnersMu.Lock()
	defer s.runnersMu.Unlock()
	return s.runners[id]
}

// runnersNow returns the runners there are now, in no order.
func (s *Supervisor) runnersNow() []*runner {
	s.runnersMu.Lock()
	defer s.runnersMu.Unlock()
	return slices.Collect(maps.Values(s.runners))
}

// tenant validates id and loads the tenant.
func (s *Supervisor) tenant(id string) (sessionstore.Tenant, error) {
	if err := sessionstore.ValidateTenantID(id); err != nil {
		return sessionstore.Tenant{}, err
	}
	return s.store.GetTenant(id) // its errors name the tenant
}

// Status returns a tenant's session. It never wakes a hibernated tenant.
func (s *Supervisor) Status(ctx context.Context, id string) (Session, error) {
	if err := s.waitStarted(ctx); err != nil {
		return Session{}, err
	}
	t, err := s.tenant(id)
	if err != nil {
		return Session{}, err
	}
	return s.session(t), nil
}

// ListSessions returns every tenant, most recently active first.
func (s *Supervisor) ListSessions(ctx context.Context) ([]Session, error) {
	if err := s.waitStarted(ctx); err != nil {
		return nil, err
	}
	ts, err := s.store.ListTenants()
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(ts))
	for _, t := range ts {
		out = append(out, s.session(t))
	}
	return out, nil
}

func (s *Supervisor) session(t sessionstore.Tenant) Session {
	var ss Session
	if r := s.existingRunner(t.ID); r != nil {
		ss = r.snapshot()
		ss.MemoryBytes = r.mem.get(s.cfg.MemorySampleEvery)
	} else {
		ss = Session{State: StateUnlinked}
		if t.Linked {
			ss.State = StateHibernated
		}
	}
	ss.TenantID = t.ID
	ss.Linked = t.Linked
	if ss.Phone == "" {
		ss.Phone = t.Phone
	}
	ss.LastActive = t.LastActive
	if ss.LastError == "" {
		ss.LastError = t.LastError
	}
	if n, err := s.store.QueueDepth(t.ID); err == nil {
		ss.Queued = n
	}
	ss.ProfileBytes = s.profileBytes(t.ID)
	ss.SnapshotAt = t.SnapshotAt
	ss.StaleRestore = t.StaleRestore
	if s.cfg.Placement != nil && s.existingRunner(t.ID) != nil {
		ss.Node = s.cfg.Placement.NodeID()
	}
	return ss
}

// profileSizeTTL is how long a profile's measured size is reused: walking a
// profile costs thousands of stats, and Status, ListSessions and every
// metrics scrape ask for it.
const profileSizeTTL = time.Minute

type profileSize struct {
	bytes int64
	at    time.Time
}

func (s *Supervisor) profileBytes(id string) int64 {
	s.sizesMu.Lock()
	c, ok := s.sizes[id]
	s.sizesMu.Unlock()
	if ok && time.Since(c.at) < profileSizeTTL {
		return c.bytes
	}
	n, err := s.store.ProfileBytes(id)
	if err != nil {
		return c.bytes
	}
	s.sizesMu.Lock()
	s.sizes[id] = profileSize{n, time.Now()}
	s.sizesMu.Unlock()
	return n
}

// forgetSize drops the tenant's measured profile size: its profile changed
// as a whole (restored, moved away, deleted).
func (s *Supervisor) forgetSize(id string) {
	s.sizesMu.Lock()
	delete(s.sizes, id)
	s.sizesMu.Unlock()
}

// Logout closes the tenant's browser and deletes its profile and the tenant.
func (s *Supervisor) Logout(ctx context.Context, id string) error {
	if err := s.waitStarted(ctx); err != nil {
		return err
	}
	if _, err := s.tenant(id); err != nil {
		return err
	}
	if p := s.cfg.Placement; p != nil {
		// The outbox writes below are fenced by the tenant's lease, which
		// stays here until the tenant is gone.
		done, err := p.Claim(ctx, id)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", id, err)
		}
		defer done()
	}
	s.runnersMu.Lock()
	r := s.runners[id]
	delete(s.runners, id)
	s.runnersMu.Unlock()
	s.forgetSize(id)
	if r != nil {
		r.cancel()
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Callers waiting on the tenant's messages learn their fate before the
	// outbox goes with the tenant.
	failed, err := s.store.FailPending(id, ReasonLoggedOut, "the tenant was logged out before the message was sent")
	if err != nil {
		return fmt.Errorf("tenant %q: %w", id, err)
	}
	for _, m := range failed {
		s.messageDone(m)
	}
	// The Deleted event commits with the deletion.
	if err := s.store.DeleteTenant(id); err != nil {
		return fmt.Errorf("tenant %q: %w", id, err)
	}
	s.log.Info("tenant logged out and deleted", zap.Int("pending_failed", len(failed)), zap.String("tenant", id))
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(Session{TenantID: id})
	}
	return nil
}

// Screenshot returns a PNG of what the tenant's page shows now.
func (s *Supervisor) Screenshot(ctx context.Context, id string) ([]byte, error) {
	if err := s.waitStarted(ctx); err != nil {
		return nil, err
	}
	if _, err := s.tenant(id); err != nil {
		return nil, err
	}
	r := s.existingRunner(id)
	if r == nil {
		return nil, fmt.Errorf("tenant %q has no running browser (hibernated or never started; a Send or Link wakes it): %w", id, ErrNotRunning)
	}
	var png []byte
	err := r.do(ctx, func() error {
		if r.page == nil {
			return fmt.Errorf("tenant %q has no running browser (hibernated, restarting or failed): %w", id, ErrNotRunning)
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var err error
		png, err = r.page.Screenshot(c)
		return err
	})
	return png, err
}

// GetMessage returns one message of the tenant's outbox.
func (s *Supervisor) GetMessage(ctx context.Context, tenantID, id string) (Message, error) {
	if err := sessionstore.ValidateTenantID(tenantID); err != nil {
		return Message{}, err
	}
	m, err := s.store.GetMessage(tenantID, id)
	if err != nil {
		return m, fmt.Errorf("tenant %q message %q: %w", tenantID, id, err)
	}
	return m, nil
}

// messageDone hands m, finished, to the Send calls waiting for it.
func (s *Supervisor) messageDone(m Message) {
	s.waitersMu.Lock()
	ws := s.waiters[m.ID]
	delete(s.waiters, m.ID)
	s.waitersMu.Unlock()
	for _, w := range ws {
		w <- m // cap 1, one send per channel
	}
}

// waitMessage waits until the message is SENT or FAILED, ctx ends, or the
// daemon drains, and returns the message as it is then. Ending by the drain
// is no error: the message stays QUEUED and is sent after the restart, and
// the caller must not take an error as a reason to send it again without its
// key. A Logout ends the wait with the message FAILED (reason LOGGED_OUT).
func (s *Supervisor) waitMessage(ctx context.Context, m Message) (Message, error) {
	w := make(chan Message, 1)
	s.waitersMu.Lock()
	s.waiters[m.ID] = append(s.waiters[m.ID], w)
	s.waitersMu.Unlock()
	defer s.dropWaiter(m.ID, w)
	cur, err := s.store.GetMessage(m.TenantID, m.ID)
	if err != nil {
		return m, err
	}
	if cur.State.Finished() {
		return cur, nil
	}
	select {
	case done := <-w:
		return done, nil
	case <-ctx.Done():
		if now, err := s.store.GetMessage(m.TenantID, m.ID); err == nil {
			cur = now
		}
		return cur, ctx.Err()
	case <-s.drainCh:
		if now, err := s.store.GetMessage(m.TenantID, m.ID); err == nil {
			cur = now
		}
		return cur, nil
	}
}

func (s *Supervisor) dropWaiter(id string, w chan Message) {
	s.waitersMu.Lock()
	defer s.waitersMu.Unlock()
	ws := s.waiters[id]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = ws
	}
}

var errStopping = errors.New("runner stopping")
