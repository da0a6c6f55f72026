package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// killKind is what the chaos loop SIGKILLs.
type killKind int

const (
	killBrowser killKind = iota // a tenant's Chrome main process
	killDaemon                  // wapoold itself; its browsers die with it
)

const (
	// The daemon's restart policy calls 5 deaths of one tenant's browser
	// within 2 minutes a crash loop and gives the tenant up for 5 minutes.
	// The soak tests recovery, not that policy: it kills one tenant's
	// browser at most maxTenantKills times per window and daemon run.
	maxTenantKills   = 3
	tenantKillWindow = 2 * time.Minute
	// targetWait bounds the wait for a READY tenant to kill the browser of.
	targetWait = 20 * time.Second
	// orphanWait bounds the wait for a killed daemon's browsers to die.
	orphanWait = 5 * time.Second
)

// chooseKind picks the next kill's kind: at random, except that the last
// kills go to the kind that has not had minKillsPerKind yet.
func chooseKind(rng *rand.Rand, remaining, browsers, daemons int) killKind {
	needB := max(0, minKillsPerKind-browsers)
	needD := max(0, minKillsPerKind-daemons)
	if remaining <= needB+needD {
		switch {
		case needB == 0:
			return killDaemon
		case needD == 0:
			return killBrowser
		}
	}
	if rng.IntN(2) == 0 {
		return killBrowser
	}
	return killDaemon
}

// chaos is the kill loop. It is owned by the goroutine that runs it; the
// main goroutine reads its fields after that goroutine ended.
type chaos struct {
	s        *soak
	d        *daemon
	profiles string
	kills    int
	rng      *rand.Rand

	browserKills, daemonKills int
	tenantKills               map[string][]time.Time // browser kills per tenant during the current daemon run
	restarts                  []time.Duration        // from SIGKILL of the daemon to the next one serving
	orphans                   []string               // findings: browsers that outlived their daemon
	incidents                 map[string]string      // tenant → last bad state seen (UNLINKED, FAILED)
}

// run makes c.kills kills, a pause of [minPause, maxPause] before each.
func (c *chaos) run(ctx context.Context) error {
	c.tenantKills = map[string][]time.Time{}
	c.incidents = map[string]string{}
	o := c.s.o
	for k := 1; k <= c.kills; k++ {
		span := int64(o.maxPause - o.minPause)
		if err := pause(ctx, o.minPause+time.Duration(c.rng.Int64N(span+1))); err != nil {
			return err
		}
		if chooseKind(c.rng, c.kills-k+1, c.browserKills, c.daemonKills) == killBrowser {
			killed, err := c.killBrowser(ctx, k)
			if err != nil {
				return err
			}
			if killed {
				continue
			}
			c.s.printf("kill %d/%d: no tenant READY to kill the browser of within %v: killing the daemon instead", k, c.kills, targetWait)
		}
		if err := c.killDaemon(k); err != nil {
			return err
		}
	}
	return nil
}

// killBrowser SIGKILLs the Chrome of a random READY tenant. It returns false
// when no tenant was READY within targetWait.
func (c *chaos) killBrowser(ctx context.Context, k int) (bool, error) {
	end := time.Now().Add(targetWait)
	for {
		if targets := c.targets(ctx); len(targets) > 0 {
			t := targets[c.rng.IntN(len(targets))]
			if err := syscall.Kill(t.pid, syscall.SIGKILL); err != nil {
				return false, fmt.Errorf("killing the browser of %s (pid %d): %w", t.tenant, t.pid, err)
			}
			c.browserKills++
			c.tenantKills[t.tenant] = append(c.tenantKills[t.tenant], time.Now())
			c.s.printf("kill %d/%d: browser of %s (pid %d, %d queued)", k, c.kills, t.tenant, t.pid, t.queued)
			return true, nil
		}
		if time.Now().After(end) {
			return false, nil
		}
		if err := pause(ctx, 200*time.Millisecond); err != nil {
			return false, err
		}
	}
}

type target struct {
	tenant string
	pid    int
	queued uint32
}

// targets lists the tenants whose browser may be killed now: READY, running
// a Chrome on their own profile, and below maxTenantKills in the window.
func (c *chaos) targets(ctx context.Context) []target {
	cl := c.d.client()
	if cl == nil {
		return nil
	}
	var out []target
	for _, tn := range c.s.tenants {
		rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		resp, err := cl.Status(rctx, &wapoolv1.StatusRequest{TenantId: tn.id})
		cancel()
		if err != nil {
			continue
		}
		s := resp.Session
		c.noteState(tn.id, s)
		if s.State != wapoolv1.SessionState_SESSION_STATE_READY || !s.Browser.GetRunning() || s.Browser.GetPid() <= 0 {
			continue
		}
		pid := int(s.Browser.GetPid())
		if !slices.Contains(browserpool.ProcessesOnProfile(filepath.Join(c.profiles, tn.id)), pid) {
			continue // not (or no longer) this tenant's Chrome
		}
		recent := 0
		for _, at := range c.tenantKills[tn.id] {
			if time.Since(at) < tenantKillWindow {
				recent++
			}
		}
		if recent < maxTenantKills {
			out = append(out, target{tenant: tn.id, pid: pid, queued: s.Queued})
		}
	}
	return out
}

// noteState records and prints a tenant entering a state that needs an
// operator: the soak cannot finish from there.
func (c *chaos) noteState(tenant string, ss *wapoolv1.Session) {
	c.s.noteIncident(c.incidents, tenant, ss)
}

// killDaemon SIGKILLs wapoold, checks that its browsers died with it, and
// starts it again on the same data dir.
func (c *chaos) killDaemon(k int) error {
	pid := c.d.latest().PID()
	killed := time.Now()
	if err := c.d.kill(); err != nil {
		return err
	}
	c.daemonKills++
	clear(c.tenantKills) // a new daemon has a new restart policy per tenant
	if left := wapooldtest.WaitNoBrowsers(c.profiles, orphanWait); len(left) > 0 {
		f := fmt.Sprintf("browsers %v still ran %v after their daemon (pid %d) was SIGKILLed", left, orphanWait, pid)
		c.orphans = append(c.orphans, f)
		c.s.printf("FINDING: %s", f)
	}
	c.s.flipBuild()
	if err := c.d.start(); err != nil {
		return fmt.Errorf("restarting wapoold after kill %d: %w", k, err)
	}
	took := time.Since(killed)
	c.restarts = append(c.restarts, took)
	c.s.printf("kill %d/%d: wapoold (pid %d); restarted, serving again after %v", k, c.kills, pid, took.Round(time.Millisecond))
	return nil
}
