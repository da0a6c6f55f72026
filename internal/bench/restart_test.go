package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/wait"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	accountBare = "15551000099"
	tenantHib   = "sleepy"
	accountHib  = "15551000004"
)

func fleetPhone(i int) string { return fmt.Sprintf("155510010%02d", i) }

// linkFleet links n tenants t00, t01, … on d, one after the other.
func (e *env) linkFleet(b *testing.B, d *daemon, n int) []string {
	progress("linking %d tenants", n)
	var tenants []string
	for i := range n {
		t := fmt.Sprintf("t%02d", i)
		e.link(b, d, t, fleetPhone(i))
		tenants = append(tenants, t)
	}
	return tenants
}

// timeline is what a poll of ListSessions every 20 ms saw of a tenant
// coming (back) up, since t0: its state leaving READY (the death noticed),
// the new Chrome's exec (its started_at in Status), the daemon holding that
// browser (its pid first shown), READY.
type timeline struct{ left, exec, attached, ready time.Duration }

// comeUp polls from t0 until one of tenants is READY with a browser other
// than old[tenant] and returns that tenant and its timeline.
func (d *daemon) comeUp(tenants []string, old map[string]int32, t0 time.Time, timeout time.Duration) (string, timeline, error) {
	seen := make([]timeline, len(tenants))
	first := -1
	var last error
	err := wait.Until(timeout, 20*time.Millisecond, func() bool {
		st, err := d.sessions()
		if err != nil {
			last = err
			return false
		}
		now := time.Since(t0)
		for i, t := range tenants {
			s, tl := st[t], &seen[i]
			if s == nil {
				continue
			}
			if tl.left == 0 && s.State != ready {
				tl.left = now
			}
			if pid := s.Browser.GetPid(); pid == 0 || pid == old[t] {
				continue
			}
			if tl.attached == 0 {
				tl.attached, tl.exec = now, s.Browser.GetStartedAt().AsTime().Sub(t0)
			}
			if s.State == ready {
				tl.ready, first = now, i
				return true
			}
		}
		return false
	})
	if err != nil {
		return "", timeline{}, fmt.Errorf("no tenant of %v READY with a new browser: %w (last error %v)", tenants, err, last)
	}
	return tenants[first], seen[first], nil
}

// BenchmarkRestart measures a browser crash beside a cold start, on one
// wapoold with -kills linked tenants and fakewa's default timings:
//
//	kill  SIGKILL of each tenant's browser in turn (each once, so that
//	      every restart takes the first backoff step, as in production
//	      where the backoff resets after 60 s of stable running) until
//	      Status says READY with a new browser
//	cold  -colds fresh starts of the daemon (--warm-parallel 1, so that
//	      no other browser starts beside it) until the first tenant is
//	      READY
//
// Metrics: kill-p50-ms, kill-p95-ms and, from the Status poll (20 ms),
// kill-detect-p50-ms (until the state leaves READY), kill-backoff-p50-ms
// (then until the new Chrome's exec: the backoff and the launch's
// preparation), kill-launch-p50-ms (until the daemon holds it),
// kill-boot-p50-ms (until READY); cold-p50-ms, cold-p95-ms, cold-up-p50-ms
// (until the daemon serves), cold-queue-p50-ms (then until the Chrome's
// exec), cold-launch-p50-ms, cold-boot-p50-ms; ratio-kill-vs-cold at p50.
func BenchmarkRestart(b *testing.B) {
	e := setup(b, fakewa.Options{})
	dataDir := filepath.Join(e.root, "fleet")
	d := e.start(b, dataDir)
	tenants := e.linkFleet(b, d, *killsFlag)
	var kill *route
	b.Run("kill", func(b *testing.B) {
		once(b)
		kill = &route{}
		progress("kill: %d SIGKILLs, one per tenant", len(tenants))
		for i, t := range tenants {
			st, err := d.sessions()
			if err != nil {
				b.Fatal(err)
			}
			old := st[t].GetBrowser().GetPid()
			if st[t].GetState() != ready || old <= 1 {
				b.Fatalf("tenant %s is %v (pid %d) before the kill", t, st[t].GetState(), old)
			}
			t0 := time.Now()
			if err := syscall.Kill(int(old), syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			_, tl, err := d.comeUp([]string{t}, map[string]int32{t: old}, t0, time.Minute)
			kill.record(b, "kill", i+1, err, tl.ready, map[string]time.Duration{ // i+1: no warm-up
				"detect": tl.left, "backoff": tl.exec - tl.left, "launch": tl.attached - tl.exec, "boot": tl.ready - tl.attached,
			})
		}
		kill.report(b, "kill")
	})
	b.Run("cold", func(b *testing.B) {
		once(b)
		if _, err := d.stop(); err != nil {
			b.Fatal(err)
		}
		progress("cold: %d fresh starts of wapoold with %d linked tenants", *coldsFlag, len(tenants))
		cold := &route{}
		for i := 1; i <= *coldsFlag; i++ {
			d := e.start(b, dataDir, "--warm-parallel", "1")
			up := time.Since(d.StartedAt())
			_, tl, err := d.comeUp(tenants, nil, d.StartedAt(), 2*time.Minute)
			cold.record(b, "cold", i, err, tl.ready, map[string]time.Duration{
				"up": up, "queue": tl.exec - up, "launch": tl.attached - tl.exec, "boot": tl.ready - tl.attached,
			})
			if _, err := d.stop(); err != nil {
				b.Fatal(err)
			}
		}
		cold.report(b, "cold")
		if kill != nil {
			b.ReportMetric(ratio(kill.total.p50(), cold.total.p50()), "ratio-kill-vs-cold")
		}
	})
}

// BenchmarkMemory measures what a warm tenant's browser holds, on one
// wapoold with -tenants linked tenants, beside one bare Chromium (chromedp's
// DefaultExecAllocatorOptions) linked on the same page:
//
//	pss      after -settle at rest, read at the same moment (so that shared
//	         pages are divided among the same processes): smaps_rollup of
//	         each browser's process tree
//	restart  SIGTERM, then a new start with the default flags until every
//	         tenant is READY
//
// Metrics (MiB are 2^20 bytes): tenant-PSS-MiB (median), tenant-PSS-min-MiB,
// tenant-PSS-max-MiB, tenant-USS-MiB (median), tenant-procs (median),
// bare-PSS-MiB, bare-USS-MiB, bare-procs, tenants; stop-s, first-READY-s,
// all-READY-s (from the new daemon's start), tenants.
func BenchmarkMemory(b *testing.B) {
	e := setup(b, fakewa.Options{})
	dataDir := filepath.Join(e.root, "fleet")
	d := e.start(b, dataDir)
	tenants := e.linkFleet(b, d, *tenantsFlag)
	b.Run("pss", func(b *testing.B) {
		once(b)
		bare := e.bare(b, "bare", accountBare)
		progress("pss: resting %v", *settleFlag)
		time.Sleep(*settleFlag) // part of the measurement: start-up allocations settle
		st, err := d.sessions()
		if err != nil {
			b.Fatal(err)
		}
		var pss, uss, procs []float64
		for _, t := range tenants {
			pids := browserpool.ProcessesOnProfile(filepath.Join(dataDir, "profiles", t))
			if s := st[t]; s.GetState() != ready || !slices.Contains(pids, int(s.GetBrowser().GetPid())) {
				b.Fatalf("tenant %s is %v with browser pid %d, processes on its profile %v", t, s.GetState(), s.GetBrowser().GetPid(), pids)
			}
			m := browserpool.MemoryOf(pids)
			pss, uss, procs = append(pss, mib(m.PSS)), append(uss, mib(m.USS)), append(procs, float64(m.Procs))
		}
		m := browserpool.MemoryOf(browserpool.ProcessesOnProfile(bare.profile))
		if m.Procs == 0 {
			b.Fatal("no process on the bare browser's profile")
		}
		b.ReportMetric(median(pss), "tenant-PSS-MiB")
		b.ReportMetric(slices.Min(pss), "tenant-PSS-min-MiB")
		b.ReportMetric(slices.Max(pss), "tenant-PSS-max-MiB")
		b.ReportMetric(median(uss), "tenant-USS-MiB")
		b.ReportMetric(median(procs), "tenant-procs")
		b.ReportMetric(mib(m.PSS), "bare-PSS-MiB")
		b.ReportMetric(mib(m.USS), "bare-USS-MiB")
		b.ReportMetric(float64(m.Procs), "bare-procs")
		b.ReportMetric(float64(len(tenants)), "tenants")
	})
	b.Run("restart", func(b *testing.B) {
		once(b)
		progress("restart: SIGTERM with %d tenants, then a new start", len(tenants))
		took, err := d.stop()
		if err != nil {
			b.Fatal(err)
		}
		d := e.start(b, dataDir)
		var first time.Duration
		err = wait.Until(3*time.Minute, 20*time.Millisecond, func() bool {
			st, err := d.sessions()
			n := 0
			for _, t := range tenants {
				if err == nil && st[t].GetState() == ready {
					n++
				}
			}
			if n > 0 && first == 0 {
				first = time.Since(d.StartedAt())
			}
			return n == len(tenants)
		})
		if err != nil {
			b.Fatalf("tenants READY after the restart: %v", err)
		}
		b.ReportMetric(time.Since(d.StartedAt()).Seconds(), "all-READY-s")
		b.ReportMetric(first.Seconds(), "first-READY-s")
		b.ReportMetric(took.Seconds(), "stop-s")
		b.ReportMetric(float64(len(tenants)), "tenants")
	})
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// median is the lower middle value.
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[(len(s)-1)/2]
}

// BenchmarkHibernate measures a Send to a HIBERNATED tenant (the daemon
// starts the browser and boots the app before the send) beside a Send to
// the same tenant at once after, while warm, both to new recipients, -wakes
// rounds after one unmeasured round. wapoold runs with --idle-hibernate 1s,
// so the tenant hibernates by itself between rounds; Status never wakes it.
//
// Metrics: wake-p50-ms, wake-p95-ms, warm-p50-ms, warm-p95-ms; for both the
// daemon's time of the attempt (-attempt-p50-ms, from its Send histogram)
// and the rest of the call (-rest-p50-ms: for a wake, the browser start and
// the app boot); ratio-wake-vs-warm at p50; not-asleep, wake sends that
// found a browser started before them; *-failed.
func BenchmarkHibernate(b *testing.B) {
	once(b)
	e := setup(b, fakewa.Options{})
	d := e.start(b, filepath.Join(e.root, "hib"), "--idle-hibernate", "1s")
	e.link(b, d, tenantHib, accountHib)
	progress("hibernate: %d rounds of wake + send, then a warm send", *wakesFlag)
	wake, warm := &route{}, &route{}
	notAsleep := 0
	for i := 0; i <= *wakesFlag; i++ {
		err := wait.Until(time.Minute, 50*time.Millisecond, func() bool {
			st, err := d.sessions()
			return err == nil && st[tenantHib].GetState() == wapoolv1.SessionState_SESSION_STATE_HIBERNATED
		})
		if err != nil {
			b.Fatalf("the tenant never HIBERNATED: %v", err)
		}
		for j, r := range []*route{wake, warm} {
			to, msg := recipient(7, 2*i+j), text("h", 2*i+j)
			t0 := time.Now()
			total, attempt, err := d.send(tenantHib, "+"+to, msg)
			if err == nil && !e.arrived(accountHib, to, msg) {
				err = errNotArrived
			}
			if st, serr := d.sessions(); j == 0 && i > 0 && err == nil && serr == nil && st[tenantHib].GetBrowser().GetStartedAt().AsTime().Before(t0) {
				notAsleep++
			}
			r.record(b, []string{"wake", "warm"}[j], i, err, total, map[string]time.Duration{"attempt": attempt, "rest": total - attempt})
		}
	}
	wake.report(b, "wake")
	warm.report(b, "warm")
	b.ReportMetric(ratio(wake.total.p50(), warm.total.p50()), "ratio-wake-vs-warm")
	b.ReportMetric(float64(notAsleep), "not-asleep")
}
