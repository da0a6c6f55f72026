package supervisor

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wapool/wapool/waweb"
)

// contractObserver records the page contract reports.
type contractObserver struct {
	nopObserver
	mu      sync.Mutex
	reports []string
}

func (o *contractObserver) PageContract(_, check string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ok {
		check += " ok"
	}
	o.reports = append(o.reports, check)
}

func (o *contractObserver) got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.reports)
}

// A page that no longer matches the contract (no send button) holds the
// queue: no attempt is counted, nothing is clicked, the tenant shows the
// check; a selectors reload lets the held messages go out at once, once
// each, in order.
func TestContractHoldsTheQueue(t *testing.T) {
	bubble(t, func(t *testing.T) {
		obs := &contractObserver{}
		cfg := fakeConfig()
		cfg.Observer = obs
		s := newFakeStack(t, cfg)
		broken := true
		s.wa.prepare = func(to, text string) error {
			if broken {
				return &waweb.ContractError{Check: "send_button", Detail: "no send button while the box holds the text"}
			}
			return nil
		}
		m1 := s.accept(alice, "first")
		m2 := s.accept(alice, "second")
		time.Sleep(10 * time.Minute) // fake time: the queue is tried every contractRetry
		for _, m := range []Message{m1, m2} {
			if got := s.message(m.ID); got.State.Finished() || got.Attempts != 0 {
				t.Errorf("held message %+v: want pending with no attempt counted", got)
			}
		}
		if s.wa.clickCount() != 0 {
			t.Fatalf("%d clicks while the contract was broken", s.wa.clickCount())
		}
		ss, err := s.sup.Status(context.Background(), "t1")
		if err != nil || ss.PageContract != "send_button" || ss.LastError == "" || ss.State != StateReady {
			t.Errorf("status while held: %+v, %v", ss, err)
		}
		s.wa.mu.Lock()
		prepares := s.wa.prepares
		broken = false
		s.wa.mu.Unlock()
		if prepares < 10 || prepares > 40 {
			t.Errorf("%d held attempts in 10 minutes, want one per %v", prepares, contractRetry)
		}

		// The operator's reload: the held queue goes on at once.
		if err := s.sup.SetSelectors(waweb.DefaultSelectors()); err != nil {
			t.Fatal(err)
		}
		reloaded := time.Now()
		a, b := s.waitState(m1.ID, MessageSent), s.waitState(m2.ID, MessageSent)
		if waited := time.Since(reloaded); waited >= contractRetry {
			t.Errorf("the held queue went on %v after the reload, want at once", waited)
		}
		if a.Attempts != 1 || b.Attempts != 1 || s.wa.clickCount() != 2 {
			t.Errorf("attempts %d and %d, %d clicks: want 1, 1 and 2", a.Attempts, b.Attempts, s.wa.clickCount())
		}
		if got := s.wa.delivered(alice); !slices.Equal(got, []string{"first", "second"}) {
			t.Errorf("delivered %q, want first then second", got)
		}
		if ss, _ := s.sup.Status(context.Background(), "t1"); ss.PageContract != "" || ss.LastError != "" {
			t.Errorf("status after the reload: %+v", ss)
		}
		if got := obs.got(); !slices.Equal(got, []string{"send_button", "send_button ok"}) {
			t.Errorf("contract reports %q", got)
		}
	})
}

// A contract broken for longer than ContractHoldMax ends the held messages
// FAILED with reason PAGE_CONTRACT, with nothing clicked, and wakes their
// callers.
func TestContractHoldMax(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.ContractHoldMax = 5 * time.Minute
		s := newFakeStack(t, cfg)
		s.wa.prepare = func(to, text string) error {
			return &waweb.ContractError{Check: "compose", Detail: "no compose box"}
		}
		m := s.send(alice, "held too long")
		if m.State != MessageFailed || m.ErrorReason != ReasonPageContract || m.Attempts != 0 {
			t.Errorf("message %+v: want FAILED with PAGE_CONTRACT and no attempt counted", m)
		}
		if s.wa.clickCount() != 0 {
			t.Errorf("%d clicks", s.wa.clickCount())
		}
	})
}

// An invalid selectors value is refused and the old one stays in force.
func TestSetSelectorsRefusesInvalid(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		bad := waweb.DefaultSelectors()
		bad.Compose = ""
		if err := s.sup.SetSelectors(bad); err == nil {
			t.Fatal("an empty compose selector was accepted")
		}
		if got := s.sup.Selectors().Compose; got != waweb.DefaultSelectors().Compose {
			t.Errorf("compose in force %q after a refused reload", got)
		}
	})
}

// The doctor goes through the runner; a failing check of a selector a
// send needs holds the queue like a failed attempt, and a passing one
// releases it.
func TestDiagnoseThroughTheRunner(t *testing.T) {
	bubble(t, func(t *testing.T) {
		s := newFakeStack(t, fakeConfig())
		s.send(alice, "warm")
		failing := true
		s.wa.diagnose = func(deep bool, self string) waweb.Diagnosis {
			return waweb.Diagnosis{State: waweb.StateMain, Checks: []waweb.Check{{Name: "page_state", OK: true}, {Name: "compose", OK: !failing}}}
		}
		d, err := s.sup.Diagnose(context.Background(), "t1", true)
		if err != nil || d.OK() {
			t.Fatalf("Diagnose = %+v, %v", d, err)
		}
		if ss, _ := s.sup.Status(context.Background(), "t1"); ss.PageContract != "compose" {
			t.Errorf("status after a failing doctor: %+v", ss)
		}
		s.wa.mu.Lock()
		failing = false
		s.wa.mu.Unlock()
		if d, err = s.sup.Diagnose(context.Background(), "t1", false); err != nil || !d.OK() {
			t.Fatalf("Diagnose = %+v, %v", d, err)
		}
		if ss, _ := s.sup.Status(context.Background(), "t1"); ss.PageContract != "" {
			t.Errorf("status after a passing doctor: %+v", ss)
		}
	})
}

// A page caught once mid-render is not a change of WhatsApp Web: one
// contract failure is tried again shortly, uncounted, and holds nothing.
func TestContractOnceIsNotAHold(t *testing.T) {
	bubble(t, func(t *testing.T) {
		obs := &contractObserver{}
		cfg := fakeConfig()
		cfg.Observer = obs
		s := newFakeStack(t, cfg)
		once := true
		s.wa.prepare = func(to, text string) error {
			if once {
				once = false
				return &waweb.ContractError{Check: "compose", Detail: "no compose box"}
			}
			return nil
		}
		start := time.Now()
		m := s.send(alice, "once")
		if m.State != MessageSent || m.Attempts != 1 {
			t.Errorf("message %+v: want SENT with one attempt counted", m)
		}
		if took := time.Since(start); took >= contractRetry {
			t.Errorf("sent %v after a single contract failure, want within %v", took, contractRetry)
		}
		if got := obs.got(); len(got) != 0 {
			t.Errorf("contract reports %q, want none", got)
		}
	})
}

// The light self-check runs on a warm, idle tenant every SelfcheckEvery: a
// page that no longer matches the contract is noticed before a send needs
// it, and shown.
func TestSelfcheckNoticesABrokenPage(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := fakeConfig()
		cfg.SelfcheckEvery = time.Minute
		s := newFakeStack(t, cfg)
		s.send(alice, "warm")
		s.wa.mu.Lock()
		s.wa.diagnose = func(deep bool, self string) waweb.Diagnosis {
			return waweb.Diagnosis{State: waweb.StateMain, Checks: []waweb.Check{{Name: "page_state", OK: true}, {Name: "compose", OK: false}}}
		}
		before := s.wa.diagnoses
		s.wa.mu.Unlock()
		time.Sleep(2 * time.Minute)
		s.wa.mu.Lock()
		ran := s.wa.diagnoses - before
		s.wa.mu.Unlock()
		if ran < 1 || ran > 3 {
			t.Errorf("%d self-checks in 2 minutes at one a minute", ran)
		}
		if ss, _ := s.sup.Status(context.Background(), "t1"); ss.PageContract != "compose" {
			t.Errorf("status after a failing self-check: %+v", ss)
		}
	})
}
