// Package testclock is a clock for tests that moves only when told to:
// its Now is injected where code takes a func() time.Time (a store's, a
// limiter's, a server's Now option), and the test moves it with Advance.
// It is safe for concurrent use: the code under test reads it from its own
// goroutines.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable time source.
type Clock struct {
	tick time.Duration // added at each Now, before it reads; fixed at New

	mu sync.Mutex // guards t
	t  time.Time
}

// New returns a Clock at t that moves only by Advance.
func New(t time.Time) *Clock { return &Clock{t: t} }

// NewTicking returns a Clock at t that also moves by tick at each Now,
// before it reads: no two readings are equal, like a real clock's.
func NewTicking(t time.Time, tick time.Duration) *Clock { return &Clock{t: t, tick: tick} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.tick)
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
