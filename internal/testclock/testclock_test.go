package testclock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(t0)
	if got := c.Now(); !got.Equal(t0) || !c.Now().Equal(t0) {
		t.Fatalf("Now() = %v, want %v twice", got, t0)
	}
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after Advance(1h): %v", got)
	}
	tc := NewTicking(t0, time.Millisecond)
	a, b := tc.Now(), tc.Now()
	if !a.Equal(t0.Add(time.Millisecond)) || b.Sub(a) != time.Millisecond {
		t.Fatalf("ticking readings %v, %v: want t0+1ms, then 1ms later", a, b)
	}
}
