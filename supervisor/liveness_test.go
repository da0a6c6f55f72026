package supervisor

import (
	"testing"
	"time"
)

// A hung page (its main thread blocked: the probe gets no answer) is noticed
// within 10 s when the tenant is idle, with the default probe settings.
func TestHungPageNoticedWhenIdle(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.send(alice, "warm") // READY, browser 1
		s.wa.mu.Lock()
		s.wa.hangPID = s.l.currentPID()
		s.wa.mu.Unlock()
		hungAt := time.Now()
		for s.l.launchCount() < 2 {
			time.Sleep(100 * time.Millisecond)
			if time.Since(hungAt) > time.Minute {
				t.Fatal("the hung page was never noticed")
			}
		}
		if took := time.Since(hungAt); took > 10*time.Second {
			t.Errorf("the hung page was noticed after %v, want within 10 s", took)
		}
		if st := s.sup.existingRunner("t1").snapshot(); st.Restarts != 1 {
			t.Errorf("restarts %d, want 1", st.Restarts)
		}
	})
}

// A Send right after the page hung never goes through that page: the probe
// before the page operation notices it, the browser is restarted, and the
// message goes out once through the new one, sooner than the idle probe
// would have noticed.
func TestHungPageNoticedBeforeSend(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.send(alice, "warm")
		s.wa.mu.Lock()
		s.wa.hangPID = s.l.currentPID()
		s.wa.mu.Unlock()
		start := time.Now()
		m := s.send(alice, "after the hang")
		if m.State != MessageSent {
			t.Fatalf("%+v", m)
		}
		s.wa.mu.Lock()
		hung := s.wa.hungPrepares
		s.wa.mu.Unlock()
		if hung != 0 {
			t.Errorf("%d attempts went through the hung page", hung)
		}
		if s.l.launchCount() != 2 {
			t.Errorf("%d launches, want 2", s.l.launchCount())
		}
		cfg := s.sup.cfg
		if took := time.Since(start); took >= cfg.ProbeInterval+cfg.ProbeTimeout {
			t.Errorf("sent %v after the hang: the probe before the send did not notice it", took)
		}
		if got := s.wa.delivered(alice); len(got) != 2 {
			t.Errorf("delivered %q", got)
		}
	})
}
