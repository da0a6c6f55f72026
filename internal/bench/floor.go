package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// runFloor measures (d), the floors: the page steps of (b) and (c) done by a
// bare chromedp program on one open, linked browser, with no daemon.
// Floor (b): open the new recipient's chat inside the app (fact 14) and wait
// for its compose box, insertText, click send, wait for msg-check.
// Floor (c): insertText, click send, wait for msg-check in the open chat.
// One unmeasured message goes first in each.
//
// With late, fakewa's editor goes live late (fact 17) and the floor knows,
// from fakewa's test hook data-fake-editor-live, the moment it does: it
// types once, then. No driver of the real page can know that moment, so this
// floor is a lower bound for (b′).
func runFloor(ctx context.Context, e *env, late bool) (fb, fc *route, err error) {
	fb = newRoute("(d) floor for (b): bare chromedp, new recipient", "in-app anchor click", phOpen, phInput, phAck)
	fc = newRoute("(d) floor for (c): bare chromedp, chat open", "already open", phInput, phAck)
	profile, account, blocks := filepath.Join(e.root, "floor"), accountFloor, [2]int{5, 6}
	if late {
		fb.name, fc.name = "(d′) floor for (b′): bare chromedp, new recipient, late editor", "(d′) floor for (c′): bare chromedp, chat open, late editor"
		fb.method = "in-app anchor click, then typing the moment the editor goes live (fakewa's hook)"
		profile, account, blocks = filepath.Join(e.root, "floorlate"), accountFloorLate, [2]int{15, 16}
	}
	e.profiles = append(e.profiles, profile)
	b, err := startBare(e.chromium, profile)
	if err != nil {
		return nil, nil, err
	}
	defer b.cancel()
	e.progress("(d) linking the floor's bare browser")
	lctx, cancel := tabCtx(ctx, b.ctx, 90*time.Second)
	err = linkPage(lctx, e.site, account)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("(d) link: %w", err)
	}

	// One message: open (when open is set), type, click and wait.
	one := func(to, text string, open bool) (ph []time.Duration, err error) {
		tab, cancel := tabCtx(ctx, b.ctx, 60*time.Second)
		defer cancel()
		t := time.Now()
		if open {
			if err := openInApp(tab, e.site.URL+"/send?phone="+to); err != nil {
				return nil, err
			}
			if _, err := pageWait(tab, `() => document.querySelector('#main[data-fake-editor-live="false"]') ? '' : 'live'`, nil); err != nil {
				return nil, fmt.Errorf("wait for the editor: %w", err)
			}
			ph = append(ph, time.Since(t))
			t = time.Now()
		}
		if err := typeText(tab, text); err != nil {
			return nil, err
		}
		ph = append(ph, time.Since(t))
		t = time.Now()
		if _, err := clickAndAck(tab, to, 30*time.Second); err != nil {
			return nil, err
		}
		return append(ph, time.Since(t)), nil
	}
	measure := func(r *route, block int, newRecipient bool) error {
		for i := 0; i <= e.n; i++ {
			to := recipient(block, 1)
			if newRecipient {
				to = recipient(block, i)
			}
			text := e.text(fmt.Sprintf("d%d", block), i)
			open := newRecipient || i == 0 // (c) opens its chat with the warm-up message
			t0 := time.Now()
			ph, err := one(to, text, open)
			total := time.Since(t0)
			if i == 0 {
				if err != nil {
					return fmt.Errorf("%s: warm-up message: %w", r.name, err)
				}
				continue
			}
			r.sent++
			if err != nil || !e.site.arrived(account, to, text) {
				r.fails++
				e.progress("%s: message %d failed: %v", r.name, i, err)
				continue
			}
			r.add(total, ph...)
		}
		return nil
	}
	e.progress("(d) floor for (b): %d messages to new recipients", e.n)
	if err := measure(fb, blocks[0], true); err != nil {
		return nil, nil, err
	}
	e.progress("(d) floor for (c): %d messages in the open chat", e.n)
	if err := measure(fc, blocks[1], false); err != nil {
		return nil, nil, err
	}
	return fb, fc, nil
}
