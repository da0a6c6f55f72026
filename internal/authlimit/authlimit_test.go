package authlimit

import (
	"testing"
	"time"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func TestDelayGrowsPastTheFreeAttempts(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{Now: c.Now})
	const addr = "192.0.2.7:41000"
	for i := 1; i <= 3; i++ {
		if w := l.Wait(addr); w != 0 {
			t.Fatalf("attempt %d waits %v", i, w)
		}
		if n, d := l.Failed(addr); n != i || d != 0 {
			t.Fatalf("failure %d: (%d, %v), want (%d, 0)", i, n, d, i)
		}
	}
	if n, d := l.Failed(addr); n != 4 || d != time.Second {
		t.Fatalf("failure 4: (%d, %v), want (4, 1s)", n, d)
	}
	// The 5th attempt waits; another port of the same address is the same
	// client.
	if w := l.Wait("192.0.2.7:41001"); w != time.Second {
		t.Fatalf("Wait after the 4th failure = %v, want 1s", w)
	}
	if w := l.Wait("192.0.2.8:1"); w != 0 {
		t.Fatalf("another address waits %v", w)
	}
	c.advance(time.Second)
	if w := l.Wait(addr); w != 0 {
		t.Fatalf("Wait once the delay passed = %v", w)
	}
	for want := 2 * time.Second; want <= DefaultMax; want *= 2 {
		if _, d := l.Failed(addr); d != want {
			t.Fatalf("delay %v, want %v", d, want)
		}
		c.advance(want)
	}
	if _, d := l.Failed(addr); d != DefaultMax {
		t.Fatalf("delay past the bound: %v, want %v", d, DefaultMax)
	}
	l.Succeeded(addr)
	if n, d := l.Failed(addr); n != 1 || d != 0 {
		t.Fatalf("after a success: (%d, %v), want (1, 0)", n, d)
	}
}

func TestAddressesAreForgotten(t *testing.T) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{Now: c.Now, Free: 2, MaxAddrs: 2})
	l.Failed("a:1")
	c.advance(DefaultForget)
	if n, _ := l.Failed("a:1"); n != 1 {
		t.Fatalf("failures after Forget = %d, want 1", n)
	}
	c.advance(time.Second) // a's failure is the oldest, not tied with b's
	l.Failed("b:1")
	c.advance(time.Second)
	l.Failed("c:1") // full: a, the oldest, goes
	if len(l.addrs) != 2 || l.addrs["a"] != nil {
		t.Fatalf("addresses kept: %v", l.addrs)
	}
}
