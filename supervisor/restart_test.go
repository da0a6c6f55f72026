package supervisor

import (
	"testing"
	"time"
)

func TestRestartPolicyBackoffDoublesAndCaps(t *testing.T) {
	p := RestartPolicy{Initial: 500 * time.Millisecond, Max: 4 * time.Second, CrashLoop: 100, rand: func() float64 { return 0.5 }}
	now := time.Unix(1000, 0)
	var got []time.Duration
	for range 6 {
		d := p.Died(now, now.Add(time.Second))
		if d.Failed {
			t.Fatal("failed too early")
		}
		got = append(got, d.Delay)
		now = now.Add(time.Minute) // outside no window that matters: CrashLoop is 100
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays = %v, want %v", got, want)
		}
	}
}

func TestRestartPolicyJitterStaysInBounds(t *testing.T) {
	for _, r := range []float64{0, 0.999} {
		p := RestartPolicy{Initial: time.Second, Jitter: 0.2, rand: func() float64 { return r }}
		now := time.Unix(0, 0)
		d := p.Died(now, now).Delay
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Errorf("rand %v: delay %v outside ±20%% of 1s", r, d)
		}
	}
}

func TestRestartPolicyStableRunResets(t *testing.T) {
	p := RestartPolicy{Initial: time.Second, StableAfter: 30 * time.Second, rand: func() float64 { return 0.5 }}
	now := time.Unix(0, 0)
	p.Died(now, now.Add(time.Second))
	now = now.Add(10 * time.Minute)
	if d := p.Died(now, now.Add(time.Second)); d.Delay != 2*time.Second {
		t.Fatalf("second quick death: %v, want 2s", d.Delay)
	}
	now = now.Add(10 * time.Minute)
	if d := p.Died(now, now.Add(time.Minute)); d.Delay != time.Second {
		t.Fatalf("death after a stable run: %v, want the initial 1s", d.Delay)
	}
}

func TestRestartPolicyCrashLoopFails(t *testing.T) {
	p := RestartPolicy{CrashLoop: 5, CrashWindow: 2 * time.Minute, CoolDown: 5 * time.Minute, rand: func() float64 { return 0.5 }}
	now := time.Unix(0, 0)
	for i := range 4 {
		if d := p.Died(now, now.Add(time.Second)); d.Failed {
			t.Fatalf("death %d already failed", i+1)
		}
		now = now.Add(10 * time.Second)
	}
	d := p.Died(now, now.Add(time.Second))
	if !d.Failed || d.Delay != 5*time.Minute {
		t.Fatalf("fifth death in 2m: %+v, want Failed with the 5m cool-down", d)
	}
	p.Reset()
	if d := p.Died(now, now.Add(time.Second)); d.Failed {
		t.Fatal("Reset kept the crash loop")
	}
}

func TestRestartPolicyOldDeathsLeaveTheWindow(t *testing.T) {
	p := RestartPolicy{CrashLoop: 3, CrashWindow: time.Minute, rand: func() float64 { return 0.5 }}
	now := time.Unix(0, 0)
	for range 10 {
		if d := p.Died(now, now); d.Failed {
			t.Fatal("deaths a minute apart made a crash loop")
		}
		now = now.Add(31 * time.Second)
	}
}
