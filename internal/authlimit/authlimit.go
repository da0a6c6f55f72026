// Package authlimit slows down the guessing of credentials: it counts the
// failed sign-ins of each client address and, past a few, makes the address
// wait a growing delay before its next attempt is even checked. The gRPC
// interceptor (server.Auth) and the web console's sign-in share one
// Limiter, so that an address guessing on both surfaces is counted once.
//
// An address is an IP (the port is dropped). Behind a proxy every client
// shares the proxy's address: a client that keeps presenting a wrong token
// then delays the others too, which is why the delay has a bound (Max) and
// a success clears the address.
//
//	attempt ──► Wait(addr) > 0 ──► refused, not checked ("try again in …")
//	   │
//	   ▼ 0
//	checked ──► wrong: Failed(addr) ──► failures ≥ Free: delay = Base·2^(failures-Free), ≤ Max
//	   │
//	   ▼ right
//	Succeeded(addr): the address starts over
//
// Concurrency: mu guards the table; every method is safe for concurrent use
// and none blocks or sleeps.
package authlimit

import (
	"net"
	"sync"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultFree     = 4
	DefaultBase     = time.Second
	DefaultMax      = 5 * time.Minute
	DefaultForget   = 15 * time.Minute
	DefaultMaxAddrs = 10000
)

// Config sets a Limiter's policy; every zero field takes its default.
type Config struct {
	// Free is how many attempts in a row an address may fail with no
	// delay between them; from the Free-th failure on, its next attempt
	// waits. 0: DefaultFree (4): the 5th attempt after 4 wrong ones waits.
	Free int
	// Base is the delay after the Free-th failure; each further failure
	// doubles it. 0: DefaultBase (1 s).
	Base time.Duration
	// Max bounds the delay. 0: DefaultMax (5 min).
	Max time.Duration
	// Forget is how long after its last failure an address starts over.
	// 0: DefaultForget (15 min).
	Forget time.Duration
	// MaxAddrs bounds the addresses remembered; when full, the one whose
	// last failure is oldest is forgotten. 0: DefaultMaxAddrs (10000).
	MaxAddrs int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Limiter counts failed attempts per client address.
type Limiter struct {
	cfg Config

	mu    sync.Mutex        // mu guards the field that follows
	addrs map[string]*entry // by IP
}

type entry struct {
	failures int
	last     time.Time // the last failure
	until    time.Time // no attempt is checked before
}

// New returns a Limiter with cfg's policy.
func New(cfg Config) *Limiter {
	if cfg.Free <= 0 {
		cfg.Free = DefaultFree
	}
	if cfg.Base <= 0 {
		cfg.Base = DefaultBase
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Forget <= 0 {
		cfg.Forget = DefaultForget
	}
	if cfg.MaxAddrs <= 0 {
		cfg.MaxAddrs = DefaultMaxAddrs
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, addrs: map[string]*entry{}}
}

// Key is the address a limiter counts for a remote address: its IP
// ("192.0.2.1:5000" → "192.0.2.1"), or the whole string when it is not
// host:port.
func Key(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// Wait returns how long remote must still wait before an attempt of its is
// checked; 0: it may try now.
func (l *Limiter) Wait(remote string) time.Duration {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.liveLocked(Key(remote), now)
	if e == nil || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// Failed records a failed attempt of remote and returns its failures in a
// row and the delay its next attempt waits (0 before the Free-th).
func (l *Limiter) Failed(remote string) (failures int, delay time.Duration) {
	now := l.cfg.Now()
	k := Key(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.liveLocked(k, now)
	if e == nil {
		if len(l.addrs) >= l.cfg.MaxAddrs {
			l.evictLocked(now)
		}
		e = &entry{}
		l.addrs[k] = e
	}
	e.failures++
	e.last = now
	if over := e.failures - l.cfg.Free; over >= 0 {
		delay = l.cfg.Base
		for i := 0; i < over && delay < l.cfg.Max; i++ {
			delay *= 2
		}
		delay = min(delay, l.cfg.Max)
		e.until = now.Add(delay)
	}
	return e.failures, delay
}

// Succeeded clears remote: a right credential starts it over.
func (l *Limiter) Succeeded(remote string) {
	k := Key(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.addrs, k)
}

// liveLocked returns k's entry, or nil when there is none or it is
// forgotten (and then dropped).
func (l *Limiter) liveLocked(k string, now time.Time) *entry {
	e, ok := l.addrs[k]
	if !ok {
		return nil
	}
	if now.Sub(e.last) >= l.cfg.Forget && !now.Before(e.until) {
		delete(l.addrs, k)
		return nil
	}
	return e
}

// evictLocked makes room: it drops the forgotten addresses, and when none
// is, the one whose last failure is oldest.
func (l *Limiter) evictLocked(now time.Time) {
	var oldest string
	var at time.Time
	for k, e := range l.addrs {
		if now.Sub(e.last) >= l.cfg.Forget && !now.Before(e.until) {
			delete(l.addrs, k)
			continue
		}
		if at.IsZero() || e.last.Before(at) {
			oldest, at = k, e.last
		}
	}
	if len(l.addrs) >= l.cfg.MaxAddrs {
		delete(l.addrs, oldest)
	}
}
