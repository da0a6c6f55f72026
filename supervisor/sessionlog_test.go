package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wapool/wapool/sessionstore"
)

// flakyLog is the store as the runner commits session changes to it, with
// every write refused while down is set (a store that is briefly away).
type flakyLog struct {
	sessionLog
	mu      sync.Mutex
	down    bool
	refused int
	// before, when set, runs before each UpdateTenantLogged (on the
	// runner's goroutine).
	before func()
}

var errStoreDown = errors.New("store unreachable")

func (f *flakyLog) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.refused++
		return errStoreDown
	}
	return nil
}

func (f *flakyLog) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *flakyLog) AppendSessionEvent(tenant string, ch sessionstore.SessionEvent) (sessionstore.Event, error) {
	if err := f.fail(); err != nil {
		return sessionstore.Event{}, err
	}
	return f.sessionLog.AppendSessionEvent(tenant, ch)
}

func (f *flakyLog) UpdateTenantLogged(id string, fn func(*sessionstore.Tenant), ch sessionstore.SessionEvent) (sessionstore.Tenant, sessionstore.Event, error) {
	if f.before != nil {
		f.before()
	}
	if err := f.fail(); err != nil {
		return sessionstore.Tenant{}, sessionstore.Event{}, err
	}
	return f.sessionLog.UpdateTenantLogged(id, fn, ch)
}

func (f *flakyLog) UpdateTenant(id string, fn func(*sessionstore.Tenant)) (sessionstore.Tenant, error) {
	if err := f.fail(); err != nil {
		return sessionstore.Tenant{}, err
	}
	return f.sessionLog.UpdateTenant(id, fn)
}

// sessionEvents describes the store's session events: "t1 STARTING→READY",
// "t1 deleted".
func sessionEvents(t *testing.T, store *sessionstore.Store) []string {
	t.Helper()
	evs, _, err := store.EventsAfter(0, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		switch c := ev.Session; {
		case c == nil:
		case c.Deleted:
			out = append(out, ev.TenantID+" deleted")
		default:
			out = append(out, fmt.Sprintf("%s %s→%s", ev.TenantID, c.From, c.To))
		}
	}
	return out
}

// A session change whose event the store refuses is not lost: the runner
// keeps it and commits it, in order, once the store takes writes again,
// with the change of the tenant's record it goes with (the link's phone),
// never one without the other. A Logout's Deleted event is in the log
// when Logout returns, once.
func TestSessionEventsSurviveAStoreOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := linkedStore(t, "t1")
		l := &fakeLauncher{wa: newFakeWA()}
		cfg := fakeConfig()
		cfg.Store, cfg.TargetURL, cfg.Launcher, cfg.Log = store, "http://fake.invalid", l, zaptest.NewLogger(t)
		sup := New(cfg)
		flaky := &flakyLog{sessionLog: sup.evlog, down: true}
		sup.evlog = flaky
		ctx := context.Background()
		defer runBuilt(t, sup)()

		ready := func(launches int) func() bool {
			return func() bool {
				s, err := sup.Status(ctx, "t1")
				return err == nil && s.State == StateReady && l.launchCount() == launches
			}
		}
		bubbleUntil(t, "READY", ready(1))
		l.kill() // RESTARTING, then READY again, all while the store is down
		bubbleUntil(t, "READY after the restart", ready(2))
		if got := sessionEvents(t, store); len(got) != 0 {
			t.Fatalf("events while the store refused every write: %q", got)
		}
		if tn, _ := store.GetTenant("t1"); tn.Phone != "" {
			t.Fatalf("the link's phone %q was stored without its event", tn.Phone)
		}

		flaky.setDown(false)
		time.Sleep(sup.cfg.ProbeInterval) // the runner's idle tick, which retries
		synctest.Wait()
		want := []string{"t1 STARTING→READY", "t1 READY→RESTARTING", "t1 RESTARTING→READY"}
		if got := sessionEvents(t, store); !slices.Equal(got, want) {
			t.Fatalf("events once the store is back: %q, want %q (%d writes refused)", got, want, flaky.refused)
		}
		if tn, _ := store.GetTenant("t1"); tn.Phone != "15550001111" {
			t.Fatalf("stored phone %q after the retry, want the page's", tn.Phone)
		}

		if err := sup.Logout(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		want = append(want, "t1 deleted")
		if got := sessionEvents(t, store); !slices.Equal(got, want) {
			t.Fatalf("events after Logout: %q, want %q", got, want)
		}
	})
}

// bubbleUntil lets the bubble's clock run, 100 ms at a time, until cond
// holds; it fails the test after 10 (bubble) minutes.
func bubbleUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 6000 {
		synctest.Wait()
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not %s within 10 minutes", what)
}

// A session change that changes the tenant's record is published (Status)
// only once the record and the event are committed: a Status showing READY
// after a link never shows the tenant unlinked, nor UNLINKED after a
// remote logout the tenant linked.
func TestStatusShowsAChangeOnceCommitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := linkedStore(t, "t1")
		cfg := fakeConfig()
		cfg.Store, cfg.TargetURL, cfg.Launcher, cfg.Log = store, "http://fake.invalid", &fakeLauncher{wa: newFakeWA()}, zaptest.NewLogger(t)
		sup := New(cfg)
		wrapped := &flakyLog{sessionLog: sup.evlog}
		var seen []State // Status's state as each commit begins
		wrapped.before = func() {
			s, err := sup.Status(context.Background(), "t1")
			if err != nil {
				t.Errorf("Status during a commit: %v", err)
			}
			seen = append(seen, s.State)
		}
		sup.evlog = wrapped
		ctx := context.Background()
		defer runBuilt(t, sup)()
		bubbleUntil(t, "READY", func() bool {
			s, err := sup.Status(ctx, "t1")
			return err == nil && s.State == StateReady
		})
		if len(seen) != 1 || seen[0] == StateReady {
			t.Fatalf("Status during the link's commit showed %v, want the state before READY", seen)
		}
	})
}
