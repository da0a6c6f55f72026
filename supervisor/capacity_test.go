package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/sessionstore"
)

const phoneB, phoneC = "15550003333", "15550004444"

// TestMaxWarmHibernatesLeastRecentlyUsed: with room for two browsers, a
// third tenant hibernates the least recently used one; a Send wakes a
// hibernated tenant (hibernating another) and succeeds; Status wakes no one.
func TestMaxWarmHibernatesLeastRecentlyUsed(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{MaxWarm: 2})
	s.link("t1", phoneA)
	s.link("t2", phoneB)
	s.sendOK("t2", contactA, "t2 is the most recent")
	s.link("t3", phoneC) // needs a slot: t1 is the least recently used
	if st := s.status("t1"); st.State != StateHibernated || st.Running {
		t.Fatalf("t1 after the third link: %v running=%v, want HIBERNATED", st.State, st.Running)
	}
	for range 3 {
		if st := s.status("t1"); st.State != StateHibernated {
			t.Fatal("Status woke a hibernated tenant")
		}
	}
	s.sendOK("t1", contactA, "woken by a send")
	running := 0
	for _, id := range []string{"t1", "t2", "t3"} {
		if s.status(id).Running {
			running++
		}
	}
	if running > 2 {
		t.Fatalf("%d browsers run with --max-warm 2", running)
	}
	if st := s.status("t2"); st.State != StateHibernated {
		t.Fatalf("t2 = %v, want HIBERNATED (least recently used after t3 linked)", st.State)
	}
	if got := s.received(phoneA); len(got) != 1 || got[0] != "woken by a send" {
		t.Fatalf("account A got %q", got)
	}
}

// TestIdleHibernateAndWake: an idle tenant hibernates by itself; a Send
// wakes it.
func TestIdleHibernateAndWake(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{IdleHibernate: 500 * time.Millisecond})
	s.link("t1", phoneA)
	waitFor(t, "HIBERNATED", 10*time.Second, func() bool { return s.status("t1").State == StateHibernated })
	if st := s.status("t1"); st.Running || st.PID != 0 {
		t.Fatalf("hibernated with a browser: %+v", st)
	}
	s.sendOK("t1", contactA, "after hibernation")
}

// TestMemoryRecycling: a browser over its memory bound is restarted
// gracefully when idle: no crash counted, no re-link, sends still work.
func TestMemoryRecycling(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{MaxBrowserMemory: 1, MemorySampleEvery: 200 * time.Millisecond})
	s.link("t1", phoneA)
	waitFor(t, "a recycle", 20*time.Second, func() bool { return s.status("t1").Recycles > 0 })
	st := s.status("t1")
	if st.Restarts != 0 {
		t.Fatalf("recycling counted as a crash: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: contactA, Text: "still linked"})
	if err != nil || m.State != MessageSent {
		t.Fatalf("send while recycling: %+v, %v", m, err)
	}
}

// TestTrimKeepsLinked: the caches trimmed before a start leave the tenant
// linked.
func TestTrimKeepsLinked(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{IdleHibernate: 300 * time.Millisecond})
	s.link("t1", phoneA)
	waitFor(t, "HIBERNATED", 10*time.Second, func() bool { return s.status("t1").State == StateHibernated })
	profile, _ := s.store.ProfileDir("t1")
	junk := filepath.Join(profile, "Default", "Code Cache", "js", "junk")
	if err := os.MkdirAll(filepath.Dir(junk), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	s.sendOK("t1", contactA, "after the trim")
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Fatalf("the cache survived the start: %v", err)
	}
}

// TestPruneDeletesWhatTheDryRunListed.
func TestPruneDeletesWhatTheDryRunListed(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	old := time.Now().Add(-48 * time.Hour)
	for _, id := range []string{"old1", "old2", "fresh"} {
		last := old
		if id == "fresh" {
			last = time.Now()
		}
		if err := s.store.PutTenant(sessionstore.Tenant{ID: id, CreatedAt: old, LastActive: last}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	dry, err := s.sup.Prune(ctx, 24*time.Hour, true)
	if err != nil || fmt.Sprint(dry) != "[old1 old2]" && fmt.Sprint(dry) != "[old2 old1]" {
		t.Fatalf("dry run: %v, %v", dry, err)
	}
	if ts, _ := s.store.ListTenants(); len(ts) != 3 {
		t.Fatalf("the dry run deleted: %d tenants left", len(ts))
	}
	done, err := s.sup.Prune(ctx, 24*time.Hour, false)
	if err != nil || fmt.Sprint(done) != fmt.Sprint(dry) {
		t.Fatalf("prune deleted %v (%v), the dry run listed %v", done, err, dry)
	}
	ts, _ := s.store.ListTenants()
	if len(ts) != 1 || ts[0].ID != "fresh" {
		t.Fatalf("left: %+v", ts)
	}
}

// TestWarmUpMostRecentFirst: after a restart the linked tenants start by
// themselves, most recently active first, within --max-warm.
func TestWarmUpMostRecentFirst(t *testing.T) {
	s := newStack(t, fakewa.FastOptions(), Config{})
	for _, id := range []string{"t1", "t2", "t3"} {
		s.link(id, map[string]string{"t1": phoneA, "t2": phoneB, "t3": phoneC}[id])
	}
	s.stop()
	base := time.Now().Add(-time.Hour)
	for i, id := range []string{"t1", "t3", "t2"} { // t2 most recent, then t3, then t1
		if _, err := s.store.UpdateTenant(id, func(t *sessionstore.Tenant) { t.LastActive = base.Add(time.Duration(i) * time.Minute) }); err != nil {
			t.Fatal(err)
		}
	}
	// With one launch slot, the warm-up hands it to t2, and to t3 only once
	// t2's first start has ended: in READY, or in RESTARTING when that
	// start failed (Chromium or the page; likelier on a loaded machine).
	// t2 then starts again after its backoff and t3 may be READY first, so
	// the order of READY is not the warm-up's order; that of the first
	// starts' ends is: each tenant's first state change, out of STARTING.
	// READY is awaited from the same changes: Status may show a state
	// before its change has been reported.
	var mu sync.Mutex
	var order []string
	ready := map[string]bool{}
	s.start(Config{WarmParallel: 1, MaxWarm: 2, OnChange: func(ss Session) {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(order, ss.TenantID) {
			order = append(order, ss.TenantID)
		}
		if ss.State == StateReady {
			ready[ss.TenantID] = true
		}
	}})
	waitFor(t, "t2 and t3 READY", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready["t2"] && ready["t3"]
	})
	mu.Lock()
	got := fmt.Sprint(order)
	mu.Unlock()
	if got != "[t2 t3]" {
		t.Fatalf("warm-up order %s, want [t2 t3] (most recent first, --max-warm 2)", got)
	}
	if st := s.status("t1"); st.State != StateHibernated || st.Running {
		t.Fatalf("t1 beyond --max-warm: %+v", st)
	}
}
