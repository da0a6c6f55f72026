package supervisor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// memoryStack is a fake stack whose browsers count their memory readings.
func memoryStack(t *testing.T, cfg Config) (*fakeStack, *atomic.Int32) {
	var readings atomic.Int32
	l := &fakeLauncher{wa: newFakeWA(), pss: func(_, _ int) uint64 {
		readings.Add(1)
		return 100 << 20
	}}
	s := newFakeStackWith(t, cfg, l)
	for range 1000 {
		if st, err := s.sup.Status(context.Background(), "t1"); err == nil && st.State == StateReady {
			return s, &readings
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("t1 never READY")
	return nil, nil
}

// TestMemoryReadWhenAsked: an idle tenant's memory is not read on a timer;
// Status reads it, and a reading younger than MemorySampleEvery answers
// the next Status.
func TestMemoryReadWhenAsked(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.MemorySampleEvery = 10 * time.Second
		s, readings := memoryStack(t, cfg)
		maxAge := cfg.MemorySampleEvery
		n0 := readings.Load() // Status while waiting for READY may have read it
		time.Sleep(10 * time.Minute)
		if n := readings.Load(); n != n0 {
			t.Fatalf("%d memory readings in 10 idle minutes with no one asking, want none", n-n0)
		}
		st, err := s.sup.Status(context.Background(), "t1")
		if err != nil || st.MemoryBytes != 100<<20 {
			t.Fatalf("Status = %d bytes, %v; want 100 MiB", st.MemoryBytes, err)
		}
		if n := readings.Load(); n != n0+1 {
			t.Fatalf("Status read the memory %d times, want once", n-n0)
		}
		time.Sleep(maxAge / 2)
		if _, err := s.sup.ListSessions(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := readings.Load(); n != n0+1 {
			t.Fatalf("a reading %v old was not reused (%d readings)", maxAge/2, n-n0)
		}
		time.Sleep(maxAge)
		if st, _ := s.sup.Status(context.Background(), "t1"); st.MemoryBytes != 100<<20 || readings.Load() != n0+2 {
			t.Fatalf("after %v: %d bytes, %d readings; want a new reading", maxAge, st.MemoryBytes, readings.Load()-n0)
		}
	})
}

// TestMemoryBoundReadsEveryMinute: with MaxBrowserMemory, an idle browser's
// memory is read once per MemorySampleEvery (1 min by default), and one
// under the bound is left alone.
func TestMemoryBoundReadsEveryMinute(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.MaxBrowserMemory = 1 << 30
		s, readings := memoryStack(t, cfg)
		n0 := readings.Load()
		time.Sleep(10*time.Minute + time.Second)
		if n := readings.Load() - n0; n < 9 || n > 11 {
			t.Fatalf("%d memory readings in 10 minutes, want 10 (one a minute)", n)
		}
		if st := s.sup.existingRunner("t1").snapshot(); st.Recycles != 0 || s.l.launchCount() != 1 {
			t.Fatalf("a browser under its bound was recycled: %+v, %d launches", st, s.l.launchCount())
		}
	})
}
