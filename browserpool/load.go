package browserpool

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// CPUMeter measures how busy the machine's CPUs are, from /proc/stat: the
// share of CPU time that was not idle between two readings. Safe for
// concurrent use.
type CPUMeter struct {
	// MinInterval is the least time between two readings; a Busy call
	// sooner returns the last value. 0: 250ms.
	MinInterval time.Duration

	mu        sync.Mutex
	fs        *procfs.FS
	at        time.Time
	busy, all float64 // CPU seconds at the last reading
	last      float64
}

// Busy returns the busy share (0 to 1) of all CPUs since the previous
// reading; the first call returns 0.
func (m *CPUMeter) Busy() (float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	every := m.MinInterval
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	if !m.at.IsZero() && time.Since(m.at) < every {
		return m.last, nil
	}
	if m.fs == nil {
		fs, err := procfs.NewDefaultFS()
		if err != nil {
			return 0, fmt.Errorf("browserpool: /proc: %w", err)
		}
		m.fs = &fs
	}
	st, err := m.fs.Stat()
	if err != nil {
		return 0, fmt.Errorf("browserpool: /proc/stat: %w", err)
	}
	c := st.CPUTotal
	idle := c.Idle + c.Iowait
	all := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal + idle
	busy := all - idle
	if !m.at.IsZero() && all > m.all {
		m.last = (busy - m.busy) / (all - m.all)
	}
	m.at, m.busy, m.all = time.Now(), busy, all
	return m.last, nil
}
