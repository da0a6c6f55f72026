package supervisor

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// restoreObserver keeps the stale restores reported.
type restoreObserver struct {
	nopObserver
	mu     sync.Mutex
	behind map[string]time.Duration
}

func (o *restoreObserver) StaleRestore(tenant string, behind time.Duration) {
	o.mu.Lock()
	o.behind[tenant] = behind
	o.mu.Unlock()
}

// A restore from a snapshot older than the tenant's last activity is
// flagged, with its age, in Status, in an event and to the Observer
// (metrics); a restore of a current snapshot clears the flag.
func TestRestoreOlderThanTheLastActivityIsFlagged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		active := time.Now().Add(-time.Minute).UTC()
		if err := store.PutTenant(sessionstore.Tenant{ID: "t1", CreatedAt: active, LastActive: active}); err != nil {
			t.Fatal(err)
		}
		obs := &restoreObserver{behind: map[string]time.Duration{}}
		cfg := fakeConfig()
		cfg.Store, cfg.TargetURL, cfg.Launcher, cfg.Observer = store, "http://fake.invalid", &fakeLauncher{wa: newFakeWA()}, obs
		sup, stop := runSupervisor(t, cfg)
		defer stop()

		takenAt := active.Add(-5 * time.Minute)
		if _, err := sup.Restored("t1", takenAt); err != nil {
			t.Fatal(err)
		}
		s, err := sup.Status(context.Background(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		r := s.StaleRestore
		if r == nil || r.Behind() != 5*time.Minute || !r.SnapshotAt.Equal(takenAt) || !r.LastActive.Equal(active) || !r.RestoredAt.Equal(time.Now().UTC()) {
			t.Fatalf("Status.StaleRestore = %+v, want 5 minutes behind", r)
		}
		evs, _, err := store.EventsAfter(0, 10, nil)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events %+v, %v; want one", evs, err)
		}
		ev := sup.event(evs[0])
		if c := ev.Session; c == nil || c.StaleRestore == nil || c.StaleRestore.Behind() != 5*time.Minute || c.From != StateUnknown || c.To != StateUnknown {
			t.Fatalf("event %+v (%+v), want the stale restore's, no state change", ev, ev.Session)
		}
		if got := obs.behind["t1"]; got != 5*time.Minute {
			t.Fatalf("Observer got %v behind, want 5m", got)
		}

		// The next restore, of a snapshot taken after the last activity.
		if _, err := sup.Restored("t1", active.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if s, _ := sup.Status(context.Background(), "t1"); s.StaleRestore != nil {
			t.Fatalf("StaleRestore %+v after a current restore, want none", s.StaleRestore)
		}
		if evs, _, _ := store.EventsAfter(0, 10, nil); len(evs) != 1 {
			t.Fatalf("%d events after a current restore, want still 1", len(evs))
		}
	})
}
