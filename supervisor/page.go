package supervisor

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/waweb"
)

// What the runner's page shows: the app booted, classified into the
// session's state (READY, UNLINKED, a conflict, the update page), the
// liveness probe, and the watcher's events (a renderer crash, a remote
// logout). All on the runner goroutine.

// boot loads the app and classifies what it shows.
func (r *runner) boot(ctx context.Context) error {
	if err := r.page.Open(ctx); err != nil {
		return fmt.Errorf("loading %s: %w", r.s.cfg.TargetURL, err)
	}
	st, err := r.page.WaitBooted(ctx)
	if err != nil {
		return fmt.Errorf("waiting for the app to boot: %w", err)
	}
	r.loadedAt = time.Now()
	r.classify(st)
	return nil
}

// classify moves the session to the state the page shows.
func (r *runner) classify(st waweb.State) {
	switch st {
	case waweb.StateMain:
		if r.state() != StateReady {
			r.linked(r.pagePhone())
			r.poke()
		}
	case waweb.StateLanding:
		switch r.state() {
		case StateLinking:
		case StateReady:
			r.loggedOut("logged out: the page shows the QR landing (removed on the phone or expired)")
		default:
			t, err := r.s.store.GetTenant(r.id)
			if err == nil && t.Linked {
				r.loggedOut("not linked any more: the page shows the QR landing")
			} else {
				r.setState(StateUnlinked, "")
			}
		}
	case waweb.StateConflict:
		if !r.useHereAt.IsZero() && time.Since(r.useHereAt) < 10*time.Second {
			r.fail("the account is open in another window and took over again after \"Use here\"")
			return
		}
		if !r.s.holds(r.id) {
			r.log.Warn("the account is open in another window and this node's lease may have lapsed: not clicking \"Use here\"")
			return
		}
		r.useHereAt = time.Now()
		r.log.Warn("the account is open in another window: clicking \"Use here\"")
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		if err := r.page.UseHere(ctx); err != nil {
			r.log.Warn("clicking Use here", zap.Error(err))
		}
	case waweb.StateUpdateBrowser:
		r.fail("WhatsApp Web refused this browser (it asks to update Chrome): check the user agent")
	}
}

func (r *runner) pagePhone() string {
	ctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
	defer cancel()
	return r.page.LinkedPhone(ctx)
}

// linked stores the link (Linked, the phone when known, no last error)
// with the session's move to READY, in one transaction with its event.
func (r *runner) linked(phone string) {
	wasLinked := true
	r.commit(func(t *sessionstore.Tenant) {
		wasLinked = t.Linked
		t.Linked = true
		if phone != "" {
			t.Phone = phone
		}
		t.LastError = ""
	}, func(sessionstore.Tenant) {
		if p := r.s.cfg.Placement; p != nil && !wasLinked {
			p.Linked(r.id)
		}
	}, func(s *Session) {
		s.State, s.LastError = StateReady, ""
		if phone != "" {
			s.Phone = phone
		}
	})
}

// loggedOut stores that the profile is not linked any more (and why) with
// the session's move to UNLINKED, in one transaction with its event.
func (r *runner) loggedOut(why string) {
	r.commit(func(t *sessionstore.Tenant) {
		t.Linked = false
		t.LastError = why
	}, nil, func(s *Session) { s.State, s.LastError = StateUnlinked, why })
}

// pageEvent reacts to what the page's watcher saw.
func (r *runner) pageEvent(ev waweb.Event) {
	if r.page == nil {
		return
	}
	switch ev.Kind {
	case waweb.EventCrashed:
		r.log.Warn("renderer crashed: loading the app again")
		r.update(func(s *Session) { s.Restarts++; s.LastExit = "renderer crashed" })
		ctx, cancel := context.WithTimeout(r.ctx, r.s.cfg.BootTimeout)
		defer cancel()
		// The first navigation after a renderer crash is often aborted
		// (net::ERR_ABORTED, measured): try twice before restarting Chrome.
		err := r.boot(ctx)
		if err != nil && ctx.Err() == nil {
			err = r.boot(ctx)
		}
		if err != nil {
			r.browserDied(fmt.Errorf("reload after a renderer crash: %w", err))
		}
	case waweb.EventLoggedOut:
		if r.state() == StateReady {
			r.loggedOut("logged out remotely (the page went to post_logout)")
		}
	}
}

// probe checks that the page answers and shows what the state says.
func (r *runner) probe() {
	if r.page == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.s.cfg.ProbeTimeout)
	st, err := r.page.State(ctx)
	cancel()
	if r.ctx.Err() != nil {
		return
	}
	if err != nil {
		r.browserDied(fmt.Errorf("page stopped answering: %w", err))
		return
	}
	r.probedAt = time.Now()
	switch st {
	case waweb.StateBooting, waweb.StateUnknown:
		return // a navigation in progress
	}
	r.classify(st)
}
