package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/waweb"
)

// runOld measures (a), the old design, per message: start Chrome on a linked
// profile, load the app, load the deep link with the text (a second page
// load, which pre-fills the compose box), click send, wait for msg-check,
// stop Chrome. One unmeasured message goes first.
func runOld(ctx context.Context, e *env) (*route, error) {
	r := newRoute("(a) old design: Chrome per message", "deep link with text= (page load), then click send",
		phStart, phBoot, phOpen, phInput, phAck, phClose)
	profile := filepath.Join(e.root, "old")
	e.profiles = append(e.profiles, profile)
	cfg := browserpool.Config{ExecPath: e.chromium}
	spec := browserpool.Spec{ProfileDir: profile}

	// Link the profile once, as a person did with the old setup.
	e.progress("(a) linking the old design's profile")
	if err := withBrowser(ctx, cfg, spec, func(b *browserpool.Browser) error {
		tab, cancel := tabCtx(ctx, b.Ctx(), 90*time.Second)
		defer cancel()
		return linkPage(tab, e.site, accountOld)
	}); err != nil {
		return nil, fmt.Errorf("(a) link: %w", err)
	}

	e.progress("(a) %d messages, Chrome started and stopped for each", e.n)
	for i := 0; i <= e.n; i++ {
		to, text := recipient(3, i), e.text("a", i)
		var ph [6]time.Duration
		t0 := time.Now()
		err := oldSend(ctx, e, cfg, spec, to, text, &ph)
		total := time.Since(t0)
		if i == 0 { // warm-up
			if err != nil {
				return nil, fmt.Errorf("(a) warm-up message: %w", err)
			}
			continue
		}
		r.sent++
		if err != nil || !e.site.arrived(accountOld, to, text) {
			r.fails++
			e.progress("(a) message %d failed: %v", i, err)
			continue
		}
		r.add(total, ph[:]...)
	}
	return r, nil
}

// oldSend is one message of the old design; ph receives its phases.
func oldSend(ctx context.Context, e *env, cfg browserpool.Config, spec browserpool.Spec, to, text string, ph *[6]time.Duration) error {
	t := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	b, err := browserpool.Launch(lctx, cfg, spec)
	cancel()
	if err != nil {
		return err
	}
	ph[0] = time.Since(t)
	err = func() error {
		tab, cancel := tabCtx(ctx, b.Ctx(), 60*time.Second)
		defer cancel()
		t = time.Now()
		p := waweb.New(b.Ctx(), e.site.URL, waweb.DefaultSelectors())
		if err := p.Open(tab); err != nil {
			return err
		}
		st, err := p.WaitBooted(tab)
		if err != nil {
			return err
		}
		if st != waweb.StateMain {
			return fmt.Errorf("the app shows %s, not the main screen: the profile lost its login", st)
		}
		ph[1] = time.Since(t)
		t = time.Now()
		if err := openByDeepLink(tab, e.site.URL, to, text); err != nil {
			return err
		}
		ph[2] = time.Since(t)
		ph[3] = 0 // the deep link pre-filled the box
		t = time.Now()
		if _, err := clickAndAck(tab, to, 30*time.Second); err != nil {
			return err
		}
		ph[4] = time.Since(t)
		return nil
	}()
	t = time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	stopErr := b.Stop(sctx)
	cancel()
	ph[5] = time.Since(t)
	if err != nil {
		return err
	}
	return stopErr
}

// withBrowser launches a browserpool browser, runs f and stops it.
func withBrowser(ctx context.Context, cfg browserpool.Config, spec browserpool.Spec, f func(*browserpool.Browser) error) error {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	b, err := browserpool.Launch(lctx, cfg, spec)
	cancel()
	if err != nil {
		return err
	}
	err = f(b)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if stopErr := b.Stop(sctx); err == nil {
		err = stopErr
	}
	return err
}
