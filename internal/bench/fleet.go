package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"

	"github.com/wapool/wapool/browserpool"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// fleet is a wapoold with linked tenants t00, t01, …, each linked to its
// own account, for the memory and restart sections.
type fleet struct {
	dataDir string
	tenants []string
	d       *daemon // the daemon running now
}

func fleetTenant(i int) string { return fmt.Sprintf("t%02d", i) }
func fleetPhone(i int) string  { return fmt.Sprintf("155510010%02d", i) }

func (f *fleet) profile(tenant string) string { return filepath.Join(f.dataDir, "profiles", tenant) }

// newFleet starts a wapoold and links n tenants, one after the other.
func newFleet(ctx context.Context, e *env, n int) (*fleet, error) {
	f := &fleet{dataDir: filepath.Join(e.root, "fleet")}
	d, err := startDaemon(ctx, e, f.dataDir)
	if err != nil {
		return nil, err
	}
	f.d = d
	e.progress("fleet: linking %d tenants on wapoold", n)
	for i := range n {
		t := fleetTenant(i)
		f.tenants = append(f.tenants, t)
		e.profiles = append(e.profiles, f.profile(t))
		if err := d.link(ctx, e.site, t, fleetPhone(i)); err != nil {
			d.stop()
			return nil, err
		}
	}
	return f, nil
}

func (f *fleet) stop() error { return f.d.stop() }

// states returns the state of every tenant.
func (d *daemon) states(ctx context.Context) (map[string]*wapoolv1.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := d.client.ListSessions(ctx, &wapoolv1.ListSessionsRequest{})
	if err != nil {
		return nil, err
	}
	out := map[string]*wapoolv1.Session{}
	for _, s := range r.Sessions {
		out[s.TenantId] = s
	}
	return out, nil
}

const ready = wapoolv1.SessionState_SESSION_STATE_READY

// ---- memory ----

// memResult is what the memory section read: each tenant's browser tree and
// the bare browser's (browserpool.MemoryOf), at the same moment.
type memResult struct {
	flags   string // which of browserpool's flag sets the tenants' browsers run
	tenants []browserpool.Memory
	bare    browserpool.Memory
	settle  time.Duration
}

func medianOf(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func (m *memResult) pick(f func(browserpool.Memory) uint64) []uint64 {
	var out []uint64
	for _, u := range m.tenants {
		out = append(out, f(u))
	}
	return out
}

// measureMemory starts a bare Chromium (chromedp's default flags) linked to
// its own account on the same page, lets everything rest for settle, and
// reads the memory of every tenant's browser tree and the bare one's at the
// same moment: shared pages are then divided among the same processes.
func measureMemory(ctx context.Context, e *env, f *fleet, settle time.Duration) (*memResult, error) {
	profile := filepath.Join(e.root, "bare")
	e.profiles = append(e.profiles, profile)
	b, err := startBare(e.chromium, profile)
	if err != nil {
		return nil, err
	}
	defer b.cancel()
	lctx, cancel := tabCtx(ctx, b.ctx, 90*time.Second)
	err = linkPage(lctx, e.site, accountBare)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("memory: link the bare browser: %w", err)
	}
	e.progress("memory: resting %v before reading /proc", settle)
	// A fixed rest is part of the measurement (start-up allocations settle,
	// lazy processes appear), not a stand-in for a condition.
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(settle):
	}
	res := &memResult{settle: settle}
	for _, t := range f.tenants {
		s, err := f.d.status(ctx, t)
		if err != nil {
			return nil, err
		}
		pids := browserpool.ProcessesOnProfile(f.profile(t))
		if s.State != ready || !slices.Contains(pids, int(s.Browser.GetPid())) {
			return nil, fmt.Errorf("memory: tenant %s is %v with browser pid %d, processes on its profile %v", t, s.State, s.Browser.GetPid(), pids)
		}
		res.tenants = append(res.tenants, browserpool.MemoryOf(pids))
		if res.flags == "" {
			res.flags = "browserpool's default flags"
			if p, err := procfs.NewProc(int(s.Browser.GetPid())); err == nil {
				if args, err := p.CmdLine(); err == nil && slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--renderer-process-limit=") }) {
					res.flags = "browserpool's flags with LeanFlags"
				}
			}
		}
	}
	res.bare = browserpool.MemoryOf(browserpool.ProcessesOnProfile(profile))
	if res.bare.Procs == 0 {
		return nil, fmt.Errorf("memory: no process on the bare browser's profile")
	}
	return res, nil
}

// ---- daemon restart with all tenants ----

type warmResult struct {
	n           int
	stop        time.Duration // SIGTERM until the old daemon exited
	first, all  time.Duration // daemon start until the first / the last tenant READY
	warmWorkers string
}

// restartFleet stops the fleet's daemon with SIGTERM and starts a new one on
// the same data dir with its default flags, timing how long until every
// tenant is READY again.
func restartFleet(ctx context.Context, e *env, f *fleet) (*warmResult, error) {
	t := time.Now()
	if err := f.d.stop(); err != nil {
		return nil, fmt.Errorf("stop the fleet's wapoold: %w", err)
	}
	res := &warmResult{n: len(f.tenants), stop: time.Since(t), warmWorkers: "--warm-parallel 2, the default"}
	d, err := startDaemon(ctx, e, f.dataDir)
	if err != nil {
		return nil, err
	}
	f.d = d
	err = waitUntil(ctx, 3*time.Minute, 20*time.Millisecond, func() bool {
		st, err := d.states(ctx)
		if err != nil {
			return false
		}
		n := 0
		for _, t := range f.tenants {
			if s := st[t]; s != nil && s.State == ready {
				n++
			}
		}
		if n > 0 && res.first == 0 {
			res.first = time.Since(d.StartedAt())
		}
		return n == len(f.tenants)
	})
	if err != nil {
		return nil, fmt.Errorf("tenants READY after a restart: %w", err)
	}
	res.all = time.Since(d.StartedAt())
	return res, nil
}

// ---- SIGKILL of a browser, and cold starts ----

type killResult struct {
	total                         samples
	detect, backoff, launch, boot samples // from the daemon's log
	other                         samples // total minus the above
	fails                         int
	unexplained                   int // restarts whose log lines were not all found
}

// killBrowsers SIGKILLs the main process of one tenant's browser at a time
// (each tenant once) and times until Status says READY with a new browser.
func killBrowsers(ctx context.Context, e *env, f *fleet, kills int) (*killResult, error) {
	res := &killResult{}
	for i := range kills {
		t := f.tenants[i%len(f.tenants)]
		s, err := f.d.status(ctx, t)
		if err != nil {
			return nil, err
		}
		old := int(s.Browser.GetPid())
		if s.State != ready || old <= 1 {
			return nil, fmt.Errorf("restart: tenant %s is %v (pid %d) before the kill", t, s.State, old)
		}
		t0 := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			return nil, fmt.Errorf("restart: kill %d: %w", old, err)
		}
		err = waitUntil(ctx, 60*time.Second, 20*time.Millisecond, func() bool {
			s, err := f.d.status(ctx, t)
			return err == nil && s.State == ready && s.Browser.GetPid() != 0 && int(s.Browser.GetPid()) != old
		})
		total := time.Since(t0)
		if err != nil {
			res.fails++
			e.progress("restart: tenant %s not READY after the kill: %v", t, err)
			continue
		}
		res.total = append(res.total, total)
		died := f.d.log.find("browser died; restarting", t, t0)
		started := f.d.log.find("browser started", t, t0)
		booted := f.d.log.find("page booted", t, t0)
		if len(died) > 0 && len(started) > 0 && len(booted) > 0 {
			in, _ := died[0].dur("in")
			launch, _ := started[0].dur("launch")
			since, _ := booted[0].dur("since_start")
			res.detect = append(res.detect, died[0].at.Sub(t0))
			res.backoff = append(res.backoff, in)
			res.launch = append(res.launch, launch)
			res.boot = append(res.boot, since-launch)
			res.other = append(res.other, total-died[0].at.Sub(t0)-in-since)
		} else {
			res.unexplained++
			e.progress("restart: tenant %s came back without the usual log lines (died %d, started %d, booted %d); its log since the kill:\n%s",
				t, len(died), len(started), len(booted), f.d.log.since(t, t0))
		}
	}
	return res, nil
}

type coldResult struct {
	total, up, launch, boot, other samples
	tenants                        []string // the tenant that was READY first, per start
}

// coldStarts stops the fleet's daemon and starts a fresh one reps times with
// --warm-parallel 1, timing from the start of the process until the first
// tenant is READY (no other browser starts meanwhile), then stops it.
func coldStarts(ctx context.Context, e *env, f *fleet, reps int) (*coldResult, error) {
	if err := f.d.stop(); err != nil {
		return nil, fmt.Errorf("stop the fleet's wapoold: %w", err)
	}
	res := &coldResult{}
	for range reps {
		d, err := startDaemon(ctx, e, f.dataDir, "--warm-parallel", "1")
		if err != nil {
			return nil, err
		}
		f.d = d
		var first string
		err = waitUntil(ctx, 2*time.Minute, 20*time.Millisecond, func() bool {
			st, err := d.states(ctx)
			if err != nil {
				return false
			}
			for _, t := range f.tenants {
				if s := st[t]; s != nil && s.State == ready {
					first = t
					return true
				}
			}
			return false
		})
		total := time.Since(d.StartedAt())
		if err != nil {
			d.stop()
			return nil, fmt.Errorf("cold start: %w", err)
		}
		res.total = append(res.total, total)
		res.tenants = append(res.tenants, first)
		serving := d.log.find("wapoold serving", "", time.Time{})
		started := d.log.find("browser started", first, time.Time{})
		booted := d.log.find("page booted", first, time.Time{})
		if len(serving) > 0 && len(started) > 0 && len(booted) > 0 {
			launch, _ := started[0].dur("launch")
			since, _ := booted[0].dur("since_start")
			res.up = append(res.up, serving[0].at.Sub(d.StartedAt()))
			res.launch = append(res.launch, launch)
			res.boot = append(res.boot, since-launch)
			res.other = append(res.other, total-serving[0].at.Sub(d.StartedAt())-since)
		}
		if err := d.stop(); err != nil {
			e.progress("cold start: stop wapoold: %v", err)
		}
	}
	return res, nil
}
