package supervisor

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/internal/redact"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// The page's QR schedule (page contract fact 3) and pairing code lifetime
// (fact 15), used to tell people how long a code stays valid.
const (
	firstQRLifetime = 60 * time.Second
	qrLifetime      = 20 * time.Second
	pairingLifetime = 3 * time.Minute
	// qrReloadGrace is how long the page may take to draw the first code
	// of a series reloaded with its button, before the button still showing
	// means the codes ran out.
	qrReloadGrace = 10 * time.Second
	// pairingTimeout ends a pairing attempt nobody completes.
	pairingTimeout = 10 * time.Minute
)

// linkAttempt is the link in progress of one tenant; every Link call of the
// tenant subscribes to it and receives the same events.
type linkAttempt struct {
	phone      string // pairing by phone number when set
	subs       map[*linkSub]struct{}
	last       *LinkEvent // replayed to late subscribers
	lastCode   string
	seq        uint32
	started    time.Time
	pairing    bool // the phone-number flow was started on the page
	reloaded   bool // the expired QR series was reloaded once for this attempt
	seriesFrom time.Time
}

type linkSub struct {
	ch  chan LinkEvent
	end chan error // receives the end of the stream: nil after Linked
}

// Link links the tenant, creating it when new, and calls emit for every
// event until the link completes, the codes run out, or ctx ends.
func (s *Supervisor) Link(ctx context.Context, id, phone string, emit func(LinkEvent) error) error {
	if err := s.waitStarted(ctx); err != nil {
		return err
	}
	if err := sessionstore.ValidateTenantID(id); err != nil {
		return err
	}
	if phone != "" {
		p, err := NormalizePhone(phone)
		if err != nil {
			return err
		}
		phone = p
	}
	if s.isDraining() {
		return fmt.Errorf("daemon stopping: %w", ErrUnavailable)
	}
	if _, err := s.store.GetTenant(id); err != nil {
		now := time.Now()
		if err := s.store.PutTenant(sessionstore.Tenant{ID: id, CreatedAt: now, LastActive: now}); err != nil {
			return fmt.Errorf("tenant %q: creating: %w", id, err)
		}
		s.log.Info("tenant created", zap.String("tenant", id))
	} else {
		s.touch(id)
	}
	r, err := s.runnerFor(ctx, id, true)
	if err != nil {
		return err
	}
	sub := &linkSub{ch: make(chan LinkEvent, 64), end: make(chan error, 1)}
	if err := r.do(ctx, func() error { r.subscribe(sub, phone); return nil }); err != nil {
		return err
	}
	defer func() {
		// Leave the attempt; the runner ends it when no one is left.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = r.do(ctx, func() error { r.unsubscribe(sub); return nil })
	}()
	for {
		select {
		case ev := <-sub.ch:
			if err := emit(ev); err != nil {
				return err
			}
		case err := <-sub.end:
			for {
				select {
				case ev := <-sub.ch:
					if err := emit(ev); err != nil {
						return err
					}
				default:
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// touch records activity of a tenant (most recently active start first).
func (s *Supervisor) touch(id string) {
	_, _ = s.store.UpdateTenant(id, func(t *sessionstore.Tenant) { t.LastActive = time.Now() })
}

// subscribe joins or starts the tenant's link attempt (runner goroutine).
func (r *runner) subscribe(sub *linkSub, phone string) {
	st := r.state()
	if st == StateReady || st == StateHibernated {
		r.wantUp = true // Link wakes a hibernated tenant
		sub.ch <- LinkEvent{Linked: &Linked{Phone: r.snapshot().Phone, AlreadyLinked: true}}
		sub.end <- nil
		return
	}
	if st == StateFailed {
		r.policy.Reset()
		r.startAt = time.Time{}
	}
	r.wantUp = true
	if r.link == nil {
		r.link = &linkAttempt{phone: phone, subs: map[*linkSub]struct{}{}, started: time.Now(), seriesFrom: r.loadedAt}
		r.log.Info("link attempt started", zap.Bool("pairing", phone != ""))
	}
	r.link.subs[sub] = struct{}{}
	if r.link.last != nil {
		sub.ch <- *r.link.last
	}
	if r.page != nil {
		r.setState(StateLinking, "")
	}
}

func (r *runner) unsubscribe(sub *linkSub) {
	if r.link == nil {
		return
	}
	delete(r.link.subs, sub)
	if len(r.link.subs) > 0 {
		return
	}
	r.log.Info("link attempt ended: no one is watching")
	r.leaveLink()
}

// leaveLink ends the attempt on the page: back to the QR landing.
func (r *runner) leaveLink() {
	a := r.link
	r.link = nil
	if a != nil && a.pairing && r.page != nil {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		if err := r.page.BackToQR(ctx); err != nil {
			r.log.Warn("going back to the QR landing", zap.Error(err))
		}
		cancel()
	}
	if r.state() == StateLinking {
		r.setState(StateUnlinked, "")
	}
}

// endLink ends every subscriber with err (nil after a Linked event).
func (r *runner) endLink(err error) {
	if r.link == nil {
		return
	}
	for sub := range r.link.subs {
		sub.end <- err
	}
	r.link.subs = map[*linkSub]struct{}{}
	r.leaveLink()
}

func (r *runner) broadcast(ev LinkEvent) {
	r.link.last = &ev
	for sub := range r.link.subs {
		select {
		case sub.ch <- ev:
		default: // a stuck reader; it will see the end
		}
	}
}

// pollLink advances the link attempt: it reads the code the page shows and
// notices the link.
func (r *runner) pollLink() {
	a := r.link
	if r.page == nil {
		return
	}
	if r.state() == StateUnlinked {
		r.setState(StateLinking, "")
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.s.cfg.ProbeTimeout+5*time.Second)
	defer cancel()
	st, err := r.page.State(ctx)
	if err != nil {
		if r.ctx.Err() == nil {
			r.browserDied(fmt.Errorf("page stopped answering: %w", err))
		}
		return
	}
	switch st {
	case waweb.StateMain:
		phone := r.pagePhone()
		if phone == "" {
			phone = a.phone
		}
		r.linked(phone)
		r.s.touch(r.id)
		r.markUsed()
		r.log.Info("linked", zap.String("phone", redact.Phone(phone)))
		// No code was shown in this attempt: the profile was linked already
		// (its browser was only starting when the Link came).
		r.broadcast(LinkEvent{Linked: &Linked{Phone: phone, AlreadyLinked: a.seq == 0 && !a.pairing}})
		r.endLink(nil)
		r.poke()
		return
	case waweb.StateLanding:
	case waweb.StateBooting, waweb.StateUnknown:
		return
	default:
		r.classify(st)
		return
	}
	if a.phone != "" {
		r.pollPairing(ctx, a)
		return
	}
	q, err := r.page.QR(ctx)
	if err != nil {
		r.log.Debug("reading the QR code", zap.Error(err))
		return
	}
	if q.Expired {
		if !a.reloaded && a.seq == 0 {
			// The series ran out before this attempt: start a new one.
			a.reloaded = true
			if err := r.page.ReloadQR(ctx); err != nil {
				r.log.Warn("reloading the QR code", zap.Error(err))
			}
			a.seriesFrom = time.Now()
			return
		}
		if a.seq == 0 && time.Since(a.seriesFrom) < qrReloadGrace {
			return // the reloaded series has not drawn its first code yet
		}
		r.log.Info("link attempt ended: the QR codes ran out")
		r.endLink(fmt.Errorf("tenant %q: no scan before the page's QR codes ran out: %w", r.id, ErrCodesExhausted))
		return
	}
	if q.Code == "" || q.Code == a.lastCode {
		return
	}
	a.lastCode = q.Code
	a.seq++
	png, err := r.page.QRPNG(ctx)
	if err != nil {
		r.log.Debug("screenshot of the QR canvas", zap.Error(err))
	}
	r.broadcast(LinkEvent{QR: &QRCode{Code: q.Code, PNG: png, Sequence: a.seq, ValidFor: qrValidFor(a.seriesFrom, time.Now())}})
}

func (r *runner) pollPairing(ctx context.Context, a *linkAttempt) {
	if time.Since(a.started) > pairingTimeout {
		r.endLink(fmt.Errorf("tenant %q: the pairing code was not entered within %v: %w", r.id, pairingTimeout, ErrCodesExhausted))
		return
	}
	if !a.pairing {
		a.pairing = true
		if err := r.page.StartPhoneLogin(ctx, a.phone); err != nil {
			r.log.Warn("starting the phone-number link", zap.Error(err))
			r.endLink(fmt.Errorf("tenant %q: starting the phone-number link: %v: %w", r.id, err, ErrUnavailable))
			return
		}
	}
	code, err := r.page.PairingCode(ctx)
	if err != nil || code == "" || code == a.lastCode {
		return
	}
	a.lastCode = code
	a.seq++
	r.broadcast(LinkEvent{Pairing: &PairingCode{Code: code, Sequence: a.seq, ValidFor: pairingLifetime}})
}

// qrValidFor says how long a code first seen at now stays valid, by the
// page's schedule counted from the start of its series.
func qrValidFor(seriesFrom, now time.Time) time.Duration {
	if seriesFrom.IsZero() {
		return qrLifetime
	}
	t := now.Sub(seriesFrom)
	if t < firstQRLifetime {
		return firstQRLifetime - t
	}
	return qrLifetime - (t-firstQRLifetime)%qrLifetime
}
