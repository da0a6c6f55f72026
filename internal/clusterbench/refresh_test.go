package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wapool/wapool/internal/percentile"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// refreshTenants is how many tenants the refresh step measures, one after
// the other (one refresh at a time: the price of one, not of several
// sharing the CPUs).
const refreshTenants = 3

// snapshotAfterActivity is the nodes' --snapshot-after-activity in the
// benchmark: short, so that a refresh follows each send within the
// 10 s of quiet the daemon waits for (the default, 5 min, would only make
// the step wait).
const snapshotAfterActivity = "2s"

// refresh prices a snapshot after activity (--snapshot-after-activity): a
// graceful close of the tenant's browser, the upload of its profile, and a
// cold start, at the first idle moment after a send. For each of
// refreshTenants tenants, twice:
//
//   - down: a Send (WAIT_SENT) makes the tenant active; Status, polled
//     through its holder every 50 ms, shows it leave READY (the close
//     began) and come back READY on a new browser with a newer
//     snapshot_at; down is the time between the two readings (each up to
//     50 ms late), quiet the time from the Send's SENT until the close
//     began (the daemon's 10 s of quiet and its placement tick);
//   - send: the same again, and as soon as the tenant is seen not READY, a
//     Send (WAIT_SENT) is made and timed until SENT: what a caller waits
//     when its send meets a refresh (it waits queued, never fails).
//
// Metrics: tenants; down-p50-s, down-max-s; quiet-p50-s; send-p50-s,
// send-max-s. The placement is settled again at the end (the sends made
// during the refreshes cause one more each).
func (c *cluster) refresh(b *testing.B) error {
	if len(c.tenants) < refreshTenants {
		return fmt.Errorf("%d tenants, want %d", len(c.tenants), refreshTenants)
	}
	via := c.via()
	var downs, quiets, sends []time.Duration
	for pass := range 2 {
		for i, t := range c.tenants[:refreshTenants] {
			before, err := via.status(t)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err = via.Client().Send(ctx, &wapoolv1.SendRequest{TenantId: t, To: fmt.Sprintf("1555410%d%03d", pass, i+1), Text: "activity", Wait: wapoolv1.Wait_WAIT_SENT})
			cancel()
			if err != nil {
				return fmt.Errorf("send to %s: %w", t, err)
			}
			sent := time.Now()
			if err := waitUntil(t+" closed for its snapshot", time.Minute, 50*time.Millisecond, func() bool {
				s, err := via.status(t)
				return err == nil && (s.GetState() != ready || s.GetBrowser().GetPid() != before.GetBrowser().GetPid())
			}); err != nil {
				return err
			}
			t0 := time.Now()
			quiets = append(quiets, t0.Sub(sent))
			if pass == 1 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err := via.Client().Send(ctx, &wapoolv1.SendRequest{TenantId: t, To: fmt.Sprintf("1555420%d%03d", pass, i+1), Text: "during the refresh", Wait: wapoolv1.Wait_WAIT_SENT})
				cancel()
				if err != nil {
					return fmt.Errorf("send to %s during its refresh: %w", t, err)
				}
				sends = append(sends, time.Since(t0))
			}
			if err := waitUntil(t+" READY after its snapshot", 2*time.Minute, 50*time.Millisecond, func() bool {
				s, err := via.status(t)
				return err == nil && s.GetState() == ready && s.GetBrowser().GetPid() != before.GetBrowser().GetPid() &&
					s.GetSnapshotAt().AsTime().After(before.GetSnapshotAt().AsTime())
			}); err != nil {
				return fmt.Errorf("%w:%s", err, c.sessions(via))
			}
			if pass == 0 {
				downs = append(downs, time.Since(t0))
				progress("ttl=%v: refresh of %s: not READY for %.2f s, %.1f s after its send", c.ttl, t, seconds(time.Since(t0)), seconds(t0.Sub(sent)))
			} else {
				progress("ttl=%v: a send to %s during its refresh: SENT after %.2f s", c.ttl, t, seconds(sends[len(sends)-1]))
			}
		}
	}
	b.ReportMetric(float64(len(downs)), "tenants")
	b.ReportMetric(seconds(percentile.Of(downs, 50)), "down-p50-s")
	b.ReportMetric(seconds(percentile.Of(downs, 100)), "down-max-s")
	b.ReportMetric(seconds(percentile.Of(quiets, 50)), "quiet-p50-s")
	b.ReportMetric(seconds(percentile.Of(sends, 50)), "send-p50-s")
	b.ReportMetric(seconds(percentile.Of(sends, 100)), "send-max-s")
	var err error
	c.where, err = c.settle()
	return err
}
