package supervisor

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wait"
	"github.com/wapool/wapool/sessionstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type stack struct {
	t     *testing.T
	fake  *fakewa.Server
	url   string
	store *sessionstore.Store
	sup   *Supervisor
	stop  func()
}

// newStack runs a Supervisor over a fresh store against an in-process fakewa
// with short timings, and real Chromium. Its cleanup stops everything and
// checks that no browser is left on any profile.
func newStack(t *testing.T, opts fakewa.Options, cfg Config, storeOpts ...func(*sessionstore.Options)) *stack {
	t.Helper()
	chromiumtest.Path(t) // skip (or fail in CI) before starting anything
	f := fakewa.New(opts)
	ts := httptest.NewServer(f)
	so := sessionstore.Options{DataDir: t.TempDir()}
	for _, o := range storeOpts {
		o(&so)
	}
	store, err := sessionstore.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, fake: f, url: ts.URL, store: store}
	s.start(cfg)
	t.Cleanup(func() {
		s.stop()
		f.Close()
		ts.Close()
		chromiumtest.NoneLeft(t, store.ProfilesDir())
		store.Close()
	})
	return s
}

// start runs a new Supervisor with cfg over the stack's store and fake;
// s.stop stops it.
func (s *stack) start(cfg Config) {
	cfg.Store, cfg.TargetURL = s.store, s.url
	cfg.Browser.ExecPath = chromiumtest.Path(s.t)
	cfg.Browser.Lean = true // the daemon's default: the lean flags must hold up under every fault
	if cfg.Log == nil {
		cfg.Log = zaptest.NewLogger(s.t)
	}
	s.sup, s.stop = runSupervisor(s.t, cfg)
}

// runSupervisor runs a Supervisor with cfg; stop drains it, ends Run and
// checks its error (once; later calls do nothing).
func runSupervisor(t *testing.T, cfg Config) (*Supervisor, func()) {
	sup := New(cfg)
	return sup, runBuilt(t, sup)
}

// runBuilt runs sup, made by New and changed by the test, as
// runSupervisor does; it returns the stop.
func runBuilt(t *testing.T, sup *Supervisor) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		sup.Drain()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// link links tenant to phone by scanning the first QR code.
func (s *stack) link(tenant, phone string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := s.sup.Link(ctx, tenant, "", func(ev LinkEvent) error {
		if ev.QR != nil && ev.QR.Sequence == 1 {
			return s.fake.Scan(ev.QR.Code, phone)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("link %s: %v", tenant, err)
	}
}

func (s *stack) status(tenant string) Session {
	s.t.Helper()
	ss, err := s.sup.Status(context.Background(), tenant)
	if err != nil {
		s.t.Fatal(err)
	}
	return ss
}

// waitFor polls cond every 20ms until it holds or the timeout ends.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if err := wait.Until(timeout, 20*time.Millisecond, cond); err != nil {
		t.Fatalf("%v waiting for %s", err, what)
	}
}

func (s *stack) received(account string) []string {
	var out []string
	for _, m := range s.fake.Messages(account) {
		out = append(out, m.Text)
	}
	return out
}
