package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/waweb"
)

// The page contract (DESIGN.md, "Sends: exactly once"; issue "When WhatsApp
// Web changes"). When an attempt stops before its click because the page no
// longer matches the contract (waweb.ErrPageContract: no compose box, no
// send button where one must be, an unknown page), WhatsApp Web changed and
// the selectors need an update. Such an attempt does not count: the
// tenant's queue is held, visibly (Session.PageContract and LastError, a
// session event, Observer.PageContract), and tried again every
// contractRetry, at once after a selectors reload (SetSelectors), until the
// contract holds again or ContractHoldMax passes, when its messages end
// FAILED with reason PAGE_CONTRACT.

// contractRetry is how often a held queue tries again without a reload;
// contractConfirm is the wait before the one quick second try that
// confirms a first failure (a page caught mid-render is not a change of
// WhatsApp Web: only a failure seen twice in a row holds the queue).
const (
	contractRetry   = 30 * time.Second
	contractConfirm = 2 * time.Second
)

// contractHold is a tenant's broken contract (runner goroutine).
type contractHold struct {
	check, detail string
	since         time.Time
	gen           uint64 // the selectors generation it failed with
	seen          int    // failures in a row; held (and shown) from the second
}

// ReasonPageContract: the message was held while the page did not match
// the contract, longer than Config.ContractHoldMax. Nothing went out.
const ReasonPageContract = "PAGE_CONTRACT"

// SetSelectors puts sel in force for every tenant's page at once (the
// daemon's SIGHUP): running browsers keep running, and queues held by a
// broken contract are tried again at once. An invalid sel is refused and
// the selectors in force stay.
func (s *Supervisor) SetSelectors(sel waweb.Selectors) error {
	if err := s.sels.Store(sel); err != nil {
		return err
	}
	s.selGen.Add(1)
	for _, r := range s.runnersNow() {
		r.poke()
	}
	return nil
}

// Selectors returns the selectors in force.
func (s *Supervisor) Selectors() waweb.Selectors { return s.sels.Load() }

// contractBroken handles an attempt at m that stopped before its click on
// a broken page contract: the attempt is not counted, the queue is held,
// and the tenant shows it (runner goroutine).
func (r *runner) contractBroken(log *zap.Logger, m Message, ce *waweb.ContractError) {
	now := time.Now()
	if r.contract == nil {
		r.contract = &contractHold{since: now}
	}
	h := r.contract
	h.gen = r.s.selGen.Load()
	h.seen++
	if h.check != ce.Check && h.seen >= 2 {
		h.check, h.detail = ce.Check, ce.Detail
		log.Warn("the page no longer matches the page contract: holding the queue (the attempt does not count); update the selectors and reload them (SIGHUP)",
			zap.String("check", ce.Check), zap.String("detail", ce.Detail))
		r.s.cfg.Observer.PageContract(r.id, ce.Check, false)
		r.update(func(s *Session) { s.PageContract, s.LastError = ce.Check, ce.Error() })
	} else if h.seen < 2 {
		log.Info("the page did not match the page contract once: trying again shortly (the attempt does not count)",
			zap.String("check", ce.Check), zap.String("detail", ce.Detail))
	}
	if _, err := r.s.store.UpdateMessage(r.id, m.ID, func(x *Message) {
		x.State, x.Attempts, x.Error = MessageQueued, max(x.Attempts-1, 0), ce.Error()
	}); err != nil {
		log.Error("uncounting an attempt held by the page contract", zap.Error(err))
	}
	if held := now.Sub(r.contract.since); held >= r.s.cfg.ContractHoldMax {
		failed, err := r.s.store.FailPending(r.id, ReasonPageContract,
			fmt.Sprintf("the page did not match the page contract (%s) for %v: not sent", ce.Check, held.Round(time.Second)))
		if err != nil {
			log.Error("failing the messages held by the page contract", zap.Error(err))
		}
		for _, f := range failed {
			r.s.messageDone(f)
		}
		log.Warn("messages held by the page contract for too long: FAILED", zap.Int("messages", len(failed)), zap.Duration("held", held))
	}
	if h.seen < 2 {
		r.retryAt = now.Add(contractConfirm)
		return
	}
	r.retryAt = now.Add(contractRetry)
}

// contractHolds is told that an attempt got past the checks a broken
// contract stops (runner goroutine): a held queue goes on.
func (r *runner) contractHolds() {
	h := r.contract
	if h == nil {
		return
	}
	r.contract = nil
	if h.check == "" {
		return // failed once, never held
	}
	r.log.Info("the page matches the page contract again: the queue goes on", zap.String("check", h.check),
		zap.Duration("held", time.Since(h.since)))
	r.s.cfg.Observer.PageContract(r.id, h.check, true)
	r.update(func(s *Session) { s.PageContract, s.LastError = "", "" })
}

// contractReloaded reports whether the selectors changed since the hold
// began: the held queue is tried at once, not after its retry wait.
func (r *runner) contractReloaded() bool {
	return r.contract != nil && r.contract.gen != r.s.selGen.Load()
}

// beforeClick ends an attempt at m that stopped before its click: held
// without counting when the page contract is broken, else failed and
// counted.
func (r *runner) beforeClick(log *zap.Logger, m Message, err error, start time.Time) {
	var ce *waweb.ContractError
	if errors.As(err, &ce) {
		r.contractBroken(log, m, ce)
		return
	}
	r.attemptFailed(log, m, err, start)
}

// Diagnose runs the doctor's probes on the tenant's live page through its
// runner, so that it never races a send (waweb.Page.Diagnose), within
// diagnoseTimeout (deep: diagnoseDeepTimeout): a hung page gives
// context.DeadlineExceeded, not a hang. A tenant with no running browser
// gets ErrNotRunning.
func (s *Supervisor) Diagnose(ctx context.Context, id string, deep bool) (waweb.Diagnosis, error) {
	if err := s.waitStarted(ctx); err != nil {
		return waweb.Diagnosis{}, err
	}
	if _, err := s.tenant(id); err != nil {
		return waweb.Diagnosis{}, err
	}
	r := s.existingRunner(id)
	if r == nil {
		return waweb.Diagnosis{}, fmt.Errorf("tenant %q has no running browser (hibernated or never started; a Send or Link wakes it): %w", id, ErrNotRunning)
	}
	limit := diagnoseTimeout
	if deep {
		limit = diagnoseDeepTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d waweb.Diagnosis
	err := r.do(ctx, func() error {
		if r.page == nil {
			return fmt.Errorf("tenant %q has no running browser (hibernated, restarting or failed): %w", id, ErrNotRunning)
		}
		var err error
		d, err = r.page.Diagnose(ctx, deep, r.snap.Phone)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", id, err)
		}
		r.noteDiagnosis(d)
		return nil
	})
	return d, err
}

// The bounds of a Diagnose: the plain form reads the page in one script;
// the deep one opens a chat and types (fact 17's late editor included).
const (
	diagnoseTimeout     = 10 * time.Second
	diagnoseDeepTimeout = 60 * time.Second
)

// noteDiagnosis turns a diagnosis's failing check of a selector a send
// needs into a held contract, and a passing check of the held one into a
// released hold (runner goroutine).
func (r *runner) noteDiagnosis(d waweb.Diagnosis) {
	if d.State != waweb.StateMain {
		return
	}
	if r.contract != nil {
		for _, c := range d.Checks {
			if c.Name == r.contract.check && c.OK {
				r.contractHolds()
				break
			}
		}
	}
	for _, c := range d.Checks {
		if !c.OK && (c.Name == "compose" || c.Name == "send_button" || c.Name == "pane_side") {
			if r.contract == nil || r.contract.check != c.Name {
				since := time.Now()
				if r.contract != nil {
					since = r.contract.since
				}
				r.contract = &contractHold{check: c.Name, detail: c.Detail, since: since, gen: r.s.selGen.Load(), seen: 2}
				r.log.Warn("the doctor finds the page no longer matches the page contract", zap.String("check", c.Name))
				r.s.cfg.Observer.PageContract(r.id, c.Name, false)
				ce := &waweb.ContractError{Check: c.Name, Detail: c.Detail}
				r.update(func(s *Session) { s.PageContract, s.LastError = c.Name, ce.Error() })
			}
			return
		}
	}
}

// selfcheck runs the light doctor on a warm, idle tenant every
// Config.SelfcheckEvery, so that a changed page is noticed before a send
// needs it (runner goroutine, from the idle tick).
func (r *runner) selfcheck() {
	if r.s.cfg.SelfcheckEvery <= 0 || r.page == nil || r.link != nil || r.state() != StateReady || r.snap.Queued > 0 ||
		time.Since(r.checkedAt) < r.s.cfg.SelfcheckEvery {
		return
	}
	r.checkedAt = time.Now()
	ctx, cancel := context.WithTimeout(r.ctx, r.s.cfg.ProbeTimeout)
	defer cancel()
	d, err := r.page.Diagnose(ctx, false, "")
	if err != nil {
		r.log.Debug("self-check", zap.Error(err))
		return
	}
	r.noteDiagnosis(d)
}
