package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/wapool/wapool/sessionstore"
)

// TestLaunchSlotNoDeadlock: with one warm slot and one launch slot, tenant
// t2's Send chooses the idle t1 to hibernate while t1 is busy in a slow
// probe; when t1 comes back, its next tick (pending) and t2's request are
// both ready. When the tick goes first, t1 finds its browser past the
// memory bound, recycles it and restarts at once, waiting for the launch
// slot; t2 must not hold that slot while it waits for t1. A deadlock leaves
// t2's message QUEUED until the wait's (fake) deadline: the test fails. Each round is a fresh daemon, and which of the two
// goes first is the scheduler's choice.
func TestLaunchSlotNoDeadlock(t *testing.T) {
	for range 12 {
		bubble(t, func(t *testing.T) {
			cfg := fakeConfig()
			cfg.MaxWarm, cfg.WarmParallel = 1, 1
			cfg.MaxBrowserMemory = 50 << 20
			cfg.MemorySampleEvery = 200 * time.Millisecond
			cfg.ProbeInterval = 250 * time.Millisecond
			cfg.ProbeTimeout = time.Second
			wa := newFakeWA()
			wa.probeDelay = 300 * time.Millisecond
			l := &fakeLauncher{wa: wa, pss: func(launch, reading int) uint64 {
				if launch == 1 && reading > 1 {
					return 100 << 20 // t1's first browser grows past the bound
				}
				return 10 << 20
			}}
			s := newFakeStackWith(t, cfg, l)
			if err := s.store.PutTenant(sessionstore.Tenant{ID: "t2", Linked: true, CreatedAt: time.Now(), LastActive: time.Now()}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(cfg.ProbeInterval + 50*time.Millisecond) // t1 is in its first probe
			m2, err := s.sup.Send(context.Background(), SendRequest{TenantID: "t2", To: alice, Text: "to make room", WaitAccepted: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			wa.mu.Lock()
			wa.probeDelay = 0
			wa.mu.Unlock()
			if m, err := s.sup.waitMessage(ctx, m2); err != nil || m.State != MessageSent {
				t.Fatalf("t2's message (a deadlock of t1 and t2?): %+v, %v", m, err)
			}
			m1, err := s.sup.Send(ctx, SendRequest{TenantID: "t1", To: bob, Text: "back"})
			if err != nil || m1.State != MessageSent {
				t.Fatalf("t1's message after: %+v, %v", m1, err)
			}
		})
	}
}

// TestWarmUpAdaptsToLoad: the warm-up starts up to WarmParallel browsers at
// once while the CPUs have room, and one at a time while they are saturated.
func TestWarmUpAdaptsToLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		busy float64
		want int
	}{{"idle machine", 0.2, 3}, {"saturated machine", 1, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				store := linkedStore(t, "a", "b", "c", "d", "e", "f")
				l := &fakeLauncher{wa: newFakeWA(), delay: 2 * time.Second}
				cfg := fakeConfig()
				cfg.Store, cfg.TargetURL, cfg.Launcher, cfg.WarmParallel = store, "http://fake.invalid", l, 3
				cfg.CPUBusy = func() (float64, error) { return tc.busy, nil }
				_, stop := runSupervisor(t, cfg)
				for l.launchCount() < 6 {
					time.Sleep(100 * time.Millisecond)
				}
				stop()
				l.mu.Lock()
				got := l.maxInFlight
				l.mu.Unlock()
				if got != tc.want {
					t.Errorf("at most %d browsers started at once, want %d", got, tc.want)
				}
			})
		})
	}
}
