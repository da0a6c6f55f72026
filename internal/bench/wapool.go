package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// runWapool measures (b) and (c) through bin/wapoold over gRPC: a tenant is
// linked first, then Send goes to a new recipient each time (b), then to one
// recipient whose chat stays open (c). Each message's total is the client's
// Send call (WAIT_SENT); the daemon's log gives the page's share ("took" of
// waweb.Send), the rest is the daemon and gRPC. One unmeasured message goes
// first in each.
//
// With late, fakewa's editor goes live late in every chat it opens (fact
// 17): the rows are (b′) and (c′), on recipients of their own.
func runWapool(ctx context.Context, e *env, late bool) (b, c *route, err error) {
	b = newRoute("(b) wapool Send, new recipient", "waweb.Send in the daemon: in-app anchor click (fact 14), deep link only as a fallback", phPage, phDaemon)
	c = newRoute("(c) wapool Send, chat already open", "waweb.Send in the daemon: the open chat as it is", phPage, phDaemon)
	dataDir, blocks := filepath.Join(e.root, "send"), [2]int{1, 2}
	if late {
		b.name, c.name = "(b′) wapool Send, new recipient, late editor", "(c′) wapool Send, chat already open, late editor"
		dataDir, blocks = filepath.Join(e.root, "sendlate"), [2]int{11, 12}
	}
	e.profiles = append(e.profiles, filepath.Join(dataDir, "profiles", tenantSend))
	account := accountWapool
	if late {
		account = accountWapoolLate
	}
	d, err := startDaemon(ctx, e, dataDir)
	if err != nil {
		return nil, nil, err
	}
	defer d.stop()
	e.progress("(b,c) linking tenant %q on wapoold", tenantSend)
	if err := d.link(ctx, e.site, tenantSend, account); err != nil {
		return nil, nil, err
	}
	measure := func(r *route, block int, newRecipient bool) error {
		for i := 0; i <= e.n; i++ {
			to := recipient(block, 1)
			if newRecipient {
				to = recipient(block, i)
			}
			text := e.text(fmt.Sprintf("w%d", block), i)
			t0 := time.Now()
			m, err := d.send(ctx, tenantSend, "+"+to, text)
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
			took, ok := d.tookOf(m.Id)
			if !ok {
				r.fails++
				e.progress("%s: message %d: no \"sent\" line in the daemon's log", r.name, i)
				continue
			}
			r.add(total, took, total-took)
		}
		return nil
	}
	e.progress("(b) %d wapool Sends to new recipients", e.n)
	if err := measure(b, blocks[0], true); err != nil {
		return nil, nil, err
	}
	e.progress("(c) %d wapool Sends to the open chat", e.n)
	if err := measure(c, blocks[1], false); err != nil {
		return nil, nil, err
	}
	if err := d.stop(); err != nil {
		e.progress("wapoold stop: %v", err)
	}
	return b, c, nil
}
