package supervisor

import (
	"math/rand/v2"
	"time"
)

// RestartPolicy decides when a dead browser is started again. It is a pure
// value: it records facts with the time they happened (the clock is the
// caller's) and returns a decision, so tests run it without sleeping.
//
// The delay doubles from Initial up to Max with ±Jitter; it starts over once a
// browser has run for StableAfter. CrashLoop deaths within CrashWindow mean the
// tenant is FAILED until CoolDown has passed, a Link or an explicit restart.
type RestartPolicy struct {
	Initial     time.Duration // first delay; default 500ms
	Max         time.Duration // cap of the delay; default 60s
	Jitter      float64       // ± fraction of the delay; default 0.2
	StableAfter time.Duration // a run this long resets the backoff; default 60s
	CrashLoop   int           // deaths within CrashWindow that mean FAILED; default 5
	CrashWindow time.Duration // default 2m
	CoolDown    time.Duration // FAILED tenants are tried again after this; default 5m

	rand   func() float64 // nil = math/rand/v2; tests inject
	deaths []time.Time
	streak int // consecutive deaths without a stable run
}

// Decision is what to do after a death.
type Decision struct {
	Failed bool          // crash loop: give up until the cool-down ends
	Delay  time.Duration // wait this long before the restart (or the retry after the cool-down)
}

func (p *RestartPolicy) defaults() {
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 60 * time.Second
	}
	if p.Jitter < 0 || p.Jitter >= 1 {
		p.Jitter = 0
	} else if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	if p.StableAfter <= 0 {
		p.StableAfter = 60 * time.Second
	}
	if p.CrashLoop <= 0 {
		p.CrashLoop = 5
	}
	if p.CrashWindow <= 0 {
		p.CrashWindow = 2 * time.Minute
	}
	if p.CoolDown <= 0 {
		p.CoolDown = 5 * time.Minute
	}
}

// Died records that a browser which started at started died at now, and
// says what to do. A start that failed counts as a death with started == now.
func (p *RestartPolicy) Died(started, now time.Time) Decision {
	p.defaults()
	if now.Sub(started) >= p.StableAfter {
		p.streak = 0
	}
	p.streak++
	p.deaths = append(p.deaths, now)
	recent := p.deaths[:0]
	for _, d := range p.deaths {
		if now.Sub(d) < p.CrashWindow {
			recent = append(recent, d)
		}
	}
	p.deaths = recent
	if len(p.deaths) >= p.CrashLoop {
		return Decision{Failed: true, Delay: p.CoolDown}
	}
	return Decision{Delay: p.Backoff(p.streak)}
}

// Backoff is the wait before try n+1 after n failures in a row (n ≥ 1):
// Initial doubled n-1 times, at most Max, ±Jitter. It is the one backoff of
// a tenant: browser restarts and send retries both follow it.
func (p *RestartPolicy) Backoff(n int) time.Duration {
	p.defaults()
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	r := rand.Float64
	if p.rand != nil {
		r = p.rand
	}
	return time.Duration(float64(d) * (1 + p.Jitter*(2*r()-1)))
}

// Reset forgets every death: an operator restart or a Link starts afresh.
func (p *RestartPolicy) Reset() {
	p.deaths = nil
	p.streak = 0
}
