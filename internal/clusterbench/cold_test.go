package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/percentile"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// coldReps is how many cold starts and wakes are timed; the median is
// reported.
const coldReps = 3

// cold times a tenant's cold start on one wapoold of its own (the default
// bbolt store, no cluster, the same flags as the nodes otherwise, and
// --idle-hibernate 2s): a tenant is linked, the daemon stopped, then
// coldReps times the daemon is started and timed
//
//   - from the daemon's start until the tenant is READY (cold-*: the
//     README's "one cold start", internal/idlebench's definition), then,
//     once the tenant hibernated by itself,
//   - from a Send (WAIT_ACCEPTED) to the hibernated tenant until it is
//     READY on a browser started after the Send (wake-*: a tenant's cold
//     start on a daemon already running, which is what a failover's new
//     holder does, less the snapshot's restore).
//
// The wake's median is what the failover is compared with.
func (r *run) cold(b *testing.B) error {
	dir := filepath.Join(r.e.root, "cold")
	const tenant, phone = "c1", "15553009001"
	extra := []string{"--idle-hibernate", "2s"}
	n, err := r.e.start("cold", dir, extra...)
	if err != nil {
		return err
	}
	progress("cold: linking %s on a single node", tenant)
	err = r.e.link(n, tenant, phone)
	if _, serr := n.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	var colds, wakes []time.Duration
	for i := range coldReps {
		n, err := r.e.start("cold", dir, extra...)
		if err != nil {
			return err
		}
		c, w, err := coldAndWake(n, tenant, fmt.Sprintf("1555400%04d", i+1))
		if _, serr := n.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		progress("cold start %d: READY %.2f s after the daemon's start; a wake: READY %.2f s after the Send", i+1, c.Seconds(), w.Seconds())
		colds, wakes = append(colds, c), append(wakes, w)
	}
	r.wake = percentile.Of(wakes, 50)
	b.ReportMetric(seconds(percentile.Of(colds, 50)), "cold-READY-s")
	b.ReportMetric(seconds(percentile.Of(colds, 0)), "cold-min-s")
	b.ReportMetric(seconds(percentile.Of(colds, 100)), "cold-max-s")
	b.ReportMetric(seconds(r.wake), "wake-READY-s")
	b.ReportMetric(seconds(percentile.Of(wakes, 0)), "wake-min-s")
	b.ReportMetric(seconds(percentile.Of(wakes, 100)), "wake-max-s")
	return nil
}

// coldAndWake times, on a daemon just started, the tenant's first READY
// from the daemon's start, then its wake from hibernation by a Send to.
func coldAndWake(n *node, tenant, to string) (cold, wake time.Duration, err error) {
	var s *wapoolv1.Session
	err = waitUntil("READY after the start", 2*time.Minute, 20*time.Millisecond, func() bool {
		s, err = n.status(tenant)
		return err == nil && s.GetState() == ready
	})
	if err != nil {
		return 0, 0, err
	}
	cold = time.Since(n.StartedAt())
	if err := waitUntil("HIBERNATED", time.Minute, 50*time.Millisecond, func() bool {
		s, err := n.status(tenant)
		return err == nil && s.GetState() == hibernated
	}); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_, err = n.Client().Send(ctx, &wapoolv1.SendRequest{TenantId: tenant, To: to, Text: "wake up", Wait: wapoolv1.Wait_WAIT_ACCEPTED})
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("send to the hibernated tenant: %w", err)
	}
	err = waitUntil("READY after the wake", 2*time.Minute, 20*time.Millisecond, func() bool {
		s, err := n.status(tenant)
		return err == nil && s.GetState() == ready && s.GetBrowser().GetStartedAt().AsTime().After(t0)
	})
	if err != nil {
		return 0, 0, err
	}
	return cold, time.Since(t0), nil
}
