package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	tenantHib     = "sleepy"
	accountHib    = "15551000004"
	idleHibernate = time.Second
	phWake        = "wake: launch + boot"
	phRest        = "rest (queue, wake decision, RPC)"
)

type hibResult struct {
	wake, warm *route
	notAsleep  int // wake sends whose tenant was not HIBERNATED just before
}

// runHibernate measures a Send to a HIBERNATED tenant (the browser is
// started and the app booted before the send) beside a Send to the same
// tenant while it is warm, both to new recipients. wapoold runs with
// --idle-hibernate 1s, so the tenant hibernates by itself between rounds;
// Status never wakes it. One unmeasured round goes first.
func runHibernate(ctx context.Context, e *env, rounds int) (*hibResult, error) {
	res := &hibResult{
		wake: newRoute("Send to a HIBERNATED tenant (wake + send)", "browser started, app booted, chat opened in the app", phWake, phPage, phRest),
		warm: newRoute("Send to the same tenant, warm", "chat opened in the app", phPage, phDaemon),
	}
	dataDir := filepath.Join(e.root, "hib")
	e.profiles = append(e.profiles, filepath.Join(dataDir, "profiles", tenantHib))
	d, err := startDaemon(ctx, e, dataDir, "--idle-hibernate", idleHibernate.String())
	if err != nil {
		return nil, err
	}
	defer d.stop()
	e.progress("hibernate: linking tenant %q (wapoold --idle-hibernate %v)", tenantHib, idleHibernate)
	if err := d.link(ctx, e.site, tenantHib, accountHib); err != nil {
		return nil, err
	}
	e.progress("hibernate: %d rounds of wake + send, then a warm send", rounds)
	for i := 0; i <= rounds; i++ {
		err := waitUntil(ctx, 60*time.Second, 50*time.Millisecond, func() bool {
			s, err := d.status(ctx, tenantHib)
			return err == nil && s.State == wapoolv1.SessionState_SESSION_STATE_HIBERNATED
		})
		if err != nil {
			return nil, fmt.Errorf("hibernate: tenant never HIBERNATED: %w", err)
		}
		// Wake + send.
		to, text := recipient(7, 2*i), e.text("h", 2*i)
		t0 := time.Now()
		m, err := d.send(ctx, tenantHib, "+"+to, text)
		total := time.Since(t0)
		var wake time.Duration
		started := d.log.find("browser started", tenantHib, t0)
		booted := d.log.find("page booted", tenantHib, t0)
		if len(started) > 0 && len(booted) > 0 {
			wake, _ = booted[0].dur("since_start")
		} else if err == nil {
			res.notAsleep++ // no browser start: it was not asleep after all
		}
		if i > 0 {
			res.wake.sent++
			took, ok := time.Duration(0), false
			if err == nil {
				took, ok = d.tookOf(m.Id)
			}
			if err != nil || !ok || !e.site.arrived(accountHib, to, text) {
				res.wake.fails++
				e.progress("hibernate: wake send %d failed: %v", i, err)
			} else {
				res.wake.add(total, wake, took, total-wake-took)
			}
		} else if err != nil {
			return nil, fmt.Errorf("hibernate: warm-up wake send: %w", err)
		}
		// The same tenant, warm now.
		to, text = recipient(7, 2*i+1), e.text("h", 2*i+1)
		t0 = time.Now()
		m, err = d.send(ctx, tenantHib, "+"+to, text)
		total = time.Since(t0)
		if i == 0 {
			if err != nil {
				return nil, fmt.Errorf("hibernate: warm-up warm send: %w", err)
			}
			continue
		}
		res.warm.sent++
		took, ok := time.Duration(0), false
		if err == nil {
			took, ok = d.tookOf(m.Id)
		}
		if err != nil || !ok || !e.site.arrived(accountHib, to, text) {
			res.warm.fails++
			e.progress("hibernate: warm send %d failed: %v", i, err)
			continue
		}
		res.warm.add(total, took, total-took)
	}
	return res, nil
}
