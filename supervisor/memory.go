package supervisor

import (
	"context"
	"sync"
	"time"
)

// Memory. A browser's memory (the PSS of its process tree: browserpool
// reads /proc, the smaps_rollup of each process) is read when someone
// asks, not on a timer of each tenant: Status, ListSessions and each
// metrics scrape read it through browserMemory.get, which reuses a reading
// younger than MemorySampleEvery (1 min). With MaxBrowserMemory,
// watchMemory reads every running browser's once per MemorySampleEvery
// (the readings share one walk of the process table), and each runner
// compares its own reading with the bound at its idle tick. An idle
// runner does no /proc work.
//
// A reading is dear: the kernel walks the page tables of every process of
// the browser for smaps_rollup, about 11 ms of CPU for a warm idle tenant
// here (BenchmarkIdleProfile), so callers that poll (a scrape every 15 s,
// the console every second) all share one reading a minute.

// browserMemory is the memory of a runner's browser; mu guards the fields
// that follow. The runner sets read when its browser starts and clears it
// when the browser stops; any goroutine may then read through it: the PSS
// of a browser is a read of /proc that never touches the page, and mu
// serializes the readings.
type browserMemory struct {
	mu    sync.Mutex
	read  func() (uint64, error) // the running browser's PSS; nil: none runs
	at    time.Time              // when bytes was read; zero: not yet
	bytes uint64
}

// set forgets the last reading and reads through read from now on (nil:
// no browser runs).
func (m *browserMemory) set(read func() (uint64, error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read, m.at, m.bytes = read, time.Time{}, 0
}

// get returns a reading at most maxAge old, reading again when the last is
// older; 0 when no browser runs. A reading that fails (the browser is
// exiting) keeps the last value.
func (m *browserMemory) get(maxAge time.Duration) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.read == nil {
		return 0
	}
	if m.at.IsZero() || time.Since(m.at) >= maxAge {
		if pss, err := m.read(); err == nil {
			m.bytes = pss
		}
		m.at = time.Now()
	}
	return m.bytes
}

// last returns the last reading without reading; 0 when there is none.
func (m *browserMemory) last() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// watchMemory reads the memory of every running browser once per
// MemorySampleEvery while MaxBrowserMemory bounds it (Run's goroutine);
// the runners act on the readings at their idle tick (checkIdle). It
// returns when ctx ends.
func (s *Supervisor) watchMemory(ctx context.Context) {
	if s.cfg.MaxBrowserMemory == 0 {
		return
	}
	tick := time.NewTicker(s.cfg.MemorySampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, r := range s.runnersNow() {
			r.mem.get(s.cfg.MemorySampleEvery / 2) // one a Status read lately serves
		}
	}
}
