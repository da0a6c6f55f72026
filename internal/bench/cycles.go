package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
)

// The cycles section: many SIGKILLs of browsers on one daemon, then the
// daemon's resources and the process table compared with before.
const (
	// cyclesCoolDown is the daemon's --failed-cooldown, the wait before each
	// restart: the first step of the production backoff (0.5 s), constant.
	cyclesCoolDown = 500 * time.Millisecond
	cyclesSettle   = 5 * time.Second  // rest before each reading
	cyclesWait     = 30 * time.Second // bound on one kill → READY
	cyclesNoise    = 2                // ± tolerated in fds and goroutines
)

func cyclesTenant(i int) string { return fmt.Sprintf("cy%d", i) }
func cyclesPhone(i int) string  { return fmt.Sprintf("155510200%02d", i) }

// hygiene is one reading of the daemon's resources and of the processes on
// the tenants' profiles.
type hygiene struct {
	fds        int   // entries of /proc/<daemon>/fd
	metricFds  int   // process_open_fds at /metrics (the scrape's socket included)
	goroutines int   // go_goroutines at /metrics
	procs      []int // live processes on each tenant's profile, in tenant order
}

type cyclesResult struct {
	tenants        []string
	cycles, failed int
	took           samples // kill → READY with a new browser
	before, after  hygiene
	restarts       []uint32 // Status browser.restarts per tenant at the end
	kills          []int    // kills per tenant
	orphans        []string // processes naming the profiles outside the current browsers' trees
	zombies        []string // zombies among the daemon's descendants
	stopErr        error    // the daemon's exit after SIGTERM; nil = exit 0
	stopTook       time.Duration
	leftAfterStop  []string // processes on the profiles once the daemon exited
}

// ok is the verdict: every cycle came back, nothing grew beyond the noise,
// no orphan, no zombie, a clean exit and no Chrome left.
func (c *cyclesResult) ok() bool {
	return c.failed == 0 && c.after.fds-c.before.fds <= cyclesNoise &&
		c.after.goroutines-c.before.goroutines <= cyclesNoise &&
		len(c.orphans) == 0 && len(c.zombies) == 0 && c.stopErr == nil && len(c.leftAfterStop) == 0
}

// startFastSite is an in-process fakewa with fakewa.FastOptions: the
// property measured does not depend on the boot time.
func startFastSite() *site {
	f := fakewa.New(fakewa.FastOptions())
	ts := httptest.NewServer(f)
	return &site{Server: f, ts: ts, URL: ts.URL}
}

// runCycles links two tenants on a wapoold of their own, reads the
// daemon's fds and goroutines and the processes on the profiles, SIGKILLs
// the tenants' browsers n times in turn (each time waiting until Status is
// READY with a new browser), reads everything again, looks for orphans and
// zombies, and stops the daemon with SIGTERM.
//
// The daemon runs with --crash-loop 1 --failed-cooldown 500ms: the backoff
// doubles up to 60 s and starts over only after 60 s of stable running, so
// with the default policy a tenant killed every few seconds would wait a
// minute per restart from its eighth kill on (0.5 s · 2^7 > 60 s). With these flags every death
// takes the crash-loop path (FAILED, then a retry after the cool-down),
// which stops and starts the browser exactly as a restart does, after a
// constant 0.5 s.
func runCycles(ctx context.Context, e *env, n int) (*cyclesResult, error) {
	s := startFastSite()
	defer s.close()
	fe := *e
	fe.site = s
	dataDir := filepath.Join(e.root, "cycles")
	res := &cyclesResult{}
	var profiles []string
	for i := range 2 {
		t := cyclesTenant(i)
		res.tenants = append(res.tenants, t)
		profiles = append(profiles, filepath.Join(dataDir, "profiles", t))
	}
	e.profiles = append(e.profiles, profiles...)
	d, err := startDaemon(ctx, &fe, dataDir, "--crash-loop", "1", "--failed-cooldown", cyclesCoolDown.String(),
		"--metrics-addr", "127.0.0.1:0", "--send-interval", "0")
	if err != nil {
		return nil, err
	}
	defer d.stop()
	metrics, err := d.metricsAddr()
	if err != nil {
		return nil, err
	}
	e.progress("cycles: linking %d tenants (fakewa with fast timings)", len(res.tenants))
	for i, t := range res.tenants {
		if err := d.link(ctx, s, t, cyclesPhone(i)); err != nil {
			return nil, err
		}
	}
	for _, t := range res.tenants {
		if err := d.waitReady(ctx, t, 0, cyclesWait); err != nil {
			return nil, fmt.Errorf("cycles: tenant %s: %w", t, err)
		}
	}
	e.progress("cycles: resting %v, then the baseline", cyclesSettle)
	if res.before, err = readHygiene(ctx, d, metrics, profiles); err != nil {
		return nil, err
	}
	e.progress("cycles: baseline fds %d, goroutines %d, processes %v; %d SIGKILLs, tenants in turn",
		res.before.fds, res.before.goroutines, res.before.procs, n)
	res.kills = make([]int, len(res.tenants))
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := res.tenants[i%len(res.tenants)]
		res.cycles++
		took, err := d.killCycle(ctx, t)
		if err != nil {
			res.failed++
			e.progress("cycles: cycle %d (%s): %v", i+1, t, err)
			continue
		}
		res.kills[i%len(res.tenants)]++
		res.took = append(res.took, took)
		if (i+1)%10 == 0 {
			e.progress("cycles: %d/%d done (kill → READY p50 %s)", i+1, n, msStr(res.took.p50()))
		}
	}
	e.progress("cycles: resting %v, then the reading after", cyclesSettle)
	if res.after, err = readHygiene(ctx, d, metrics, profiles); err != nil {
		return nil, err
	}
	var roots []int
	for _, t := range res.tenants {
		st, err := d.status(ctx, t)
		if err != nil {
			return nil, err
		}
		res.restarts = append(res.restarts, st.Browser.GetRestarts())
		if pid := int(st.Browser.GetPid()); pid > 0 {
			roots = append(roots, pid)
		}
	}
	procs := readProcs()
	res.orphans = orphans(procs, filepath.Join(dataDir, "profiles"), roots, d.PID())
	res.zombies = zombies(procs, d.PID())
	e.progress("cycles: fds %d → %d, goroutines %d → %d, orphans %d, zombies %d; stopping wapoold (SIGTERM)",
		res.before.fds, res.after.fds, res.before.goroutines, res.after.goroutines, len(res.orphans), len(res.zombies))
	t0 := time.Now()
	res.stopErr = d.stop()
	res.stopTook = time.Since(t0)
	// The daemon waited for its browsers; a moment for the kernel to
	// reap what its group kill left.
	_ = waitUntil(ctx, 5*time.Second, 50*time.Millisecond, func() bool {
		res.leftAfterStop = nil
		for _, p := range profiles {
			for _, pid := range browserpool.ProcessesOnProfile(p) {
				res.leftAfterStop = append(res.leftAfterStop, fmt.Sprintf("pid %d on %s", pid, p))
			}
		}
		return len(res.leftAfterStop) == 0
	})
	return res, nil
}

// killCycle SIGKILLs the main process of the tenant's browser and returns
// the time until Status says READY with another browser.
func (d *daemon) killCycle(ctx context.Context, tenant string) (time.Duration, error) {
	// A tenant that did not come back in an earlier cycle gets its chance.
	if err := d.waitReady(ctx, tenant, 0, cyclesWait); err != nil {
		return 0, fmt.Errorf("not READY before the kill: %w", err)
	}
	st, err := d.status(ctx, tenant)
	if err != nil {
		return 0, err
	}
	old := int(st.Browser.GetPid())
	if old <= 1 {
		return 0, fmt.Errorf("READY without a browser pid")
	}
	t0 := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill %d: %w", old, err)
	}
	if err := d.waitReady(ctx, tenant, old, cyclesWait); err != nil {
		return 0, fmt.Errorf("not READY with a new browser after the kill of %d: %w", old, err)
	}
	return time.Since(t0), nil
}

// waitReady polls Status every 20 ms until the tenant is READY with a
// browser whose pid is not old.
func (d *daemon) waitReady(ctx context.Context, tenant string, old int, timeout time.Duration) error {
	var last string
	err := waitUntil(ctx, timeout, 20*time.Millisecond, func() bool {
		s, err := d.status(ctx, tenant)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("%v, pid %d, last error %q", s.State, s.Browser.GetPid(), s.LastError)
		pid := int(s.Browser.GetPid())
		return s.State == ready && pid != 0 && pid != old
	})
	if err != nil {
		return fmt.Errorf("%w (last: %s)", err, last)
	}
	return nil
}

// metricsAddr returns the address of the daemon's "metrics serving" line.
func (d *daemon) metricsAddr() (string, error) {
	var addr string
	_ = waitUntil(context.Background(), 5*time.Second, 20*time.Millisecond, func() bool {
		if r := d.log.find("metrics serving", "", time.Time{}); len(r) > 0 {
			addr = r[0].str("addr")
		}
		return addr != ""
	})
	if addr == "" {
		return "", errors.New("cycles: wapoold did not log its metrics address")
	}
	return addr, nil
}

// readHygiene rests for cyclesSettle, then counts the daemon's fds (before
// the scrape, so that its socket is not counted), scrapes /metrics on a
// connection of its own that it closes, and counts the processes on each
// profile.
func readHygiene(ctx context.Context, d *daemon, metricsAddr string, profiles []string) (hygiene, error) {
	select {
	case <-ctx.Done():
		return hygiene{}, ctx.Err()
	case <-time.After(cyclesSettle): // part of the measurement: a rest, not a condition
	}
	var h hygiene
	p, err := procfs.NewProc(d.PID())
	if err == nil {
		h.fds, err = p.FileDescriptorsLen()
	}
	if err != nil {
		return h, fmt.Errorf("cycles: the daemon's fds: %w", err)
	}
	m, err := scrape(ctx, metricsAddr)
	if err != nil {
		return h, err
	}
	g, okG := m["go_goroutines"]
	f, okF := m["process_open_fds"]
	if !okG || !okF {
		return h, fmt.Errorf("cycles: /metrics lacks go_goroutines or process_open_fds")
	}
	h.goroutines, h.metricFds = int(g), int(f)
	for _, p := range profiles {
		h.procs = append(h.procs, len(browserpool.ProcessesOnProfile(p)))
	}
	return h, nil
}

// scrape reads the unlabeled samples of http://addr/metrics.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cycles: scrape: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cycles: scrape: %s: %v", resp.Status, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(f[0], "#") || strings.Contains(f[0], "{") {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out, nil
}

// proc is one entry of the process table.
type proc struct {
	pid, ppid int
	state     byte
	args      []string // the command line; empty for zombies and kernel threads
}

// readProcs reads the process table; processes that exit meanwhile are
// left out.
func readProcs() []proc {
	all, _ := procfs.AllProcs()
	var out []proc
	for _, p := range all {
		st, err := p.Stat()
		if err != nil || st.State == "" {
			continue
		}
		args, _ := p.CmdLine()
		out = append(out, proc{pid: p.PID, ppid: st.PPID, state: st.State[0], args: args})
	}
	return out
}

// names reports whether an argument of the command line names a path
// below dir.
func (p proc) names(dir string) bool {
	return slices.ContainsFunc(p.args, func(a string) bool { return strings.Contains(a, dir+string(filepath.Separator)) })
}

// descendants returns the pids of roots and of all their descendants.
func descendants(procs []proc, roots ...int) map[int]bool {
	in := map[int]bool{}
	for _, r := range roots {
		in[r] = true
	}
	for grew := true; grew; {
		grew = false
		for _, p := range procs {
			if !in[p.pid] && in[p.ppid] {
				in[p.pid], grew = true, true
			}
		}
	}
	return in
}

// orphans returns the processes whose command line names a path below
// profilesDir but which are neither the daemon nor in the tree of a
// browser it runs now.
func orphans(procs []proc, profilesDir string, browsers []int, daemon int) []string {
	owned := descendants(procs, browsers...)
	var out []string
	for _, p := range procs {
		if p.pid == daemon || p.pid == os.Getpid() || owned[p.pid] || !p.names(profilesDir) {
			continue
		}
		out = append(out, fmt.Sprintf("pid %d (parent %d, state %c): %s", p.pid, p.ppid, p.state, p.args[0]))
	}
	return out
}

// zombies returns the zombies among the daemon's descendants.
func zombies(procs []proc, daemon int) []string {
	tree := descendants(procs, daemon)
	var out []string
	for _, p := range procs {
		if p.state == 'Z' && tree[p.pid] {
			out = append(out, fmt.Sprintf("pid %d (parent %d)", p.pid, p.ppid))
		}
	}
	slices.Sort(out)
	return out
}
