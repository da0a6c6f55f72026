package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/wapooldtest"
)

const (
	// cyclesCoolDown is the daemon's --failed-cooldown, the wait before each
	// restart: the first step of the production backoff (0.5 s), constant.
	cyclesCoolDown = 500 * time.Millisecond
	cyclesSettle   = 5 * time.Second // rest before each reading
)

// hygiene is one reading of the daemon's resources and of the processes on
// the tenants' profiles.
type hygiene struct {
	fds        float64 // entries of /proc/<daemon>/fd, counted before the scrape
	metricFds  float64 // process_open_fds at /metrics (the scrape's socket included)
	goroutines float64 // go_goroutines at /metrics
	procs      float64 // live processes per tenant's profile, on average
}

// BenchmarkCycles measures hygiene under repeated crashes: two tenants
// linked on one wapoold (fakewa's fast timings: the property does not
// depend on the boot), -cycles SIGKILLs of their browsers in turn, each
// until Status says READY with a new browser. The daemon runs with
// --crash-loop 1 --failed-cooldown 500ms: its backoff doubles up to 60 s
// and resets only after 60 s of stable running, so with the default policy
// a tenant killed every few seconds would wait a minute per restart; with
// these flags every death is a crash loop (FAILED), retried after a
// constant 0.5 s, the same stop and start of the browser as a restart.
//
// Metrics: cycles, failed (not READY with a new browser within 30 s),
// status-restarts (the tenants' browser.restarts in Status at the end), kill-p50-ms, kill-p95-ms; after 5 s at rest before and after:
// fds-before/-after (/proc/<pid>/fd), metric-fds-before/-after
// (process_open_fds), goroutines-before/-after (go_goroutines),
// procs/profile-before/-after; orphans (processes on the profiles outside
// the current browsers' trees), zombies (among the daemon's descendants);
// then SIGTERM: exit-code, stop-ms, chrome-left (processes on the profiles
// once the daemon exited).
func BenchmarkCycles(b *testing.B) {
	once(b)
	e := setup(b, fakewa.FastOptions())
	dataDir := filepath.Join(e.root, "cycles")
	d := e.start(b, dataDir, "--crash-loop", "1", "--failed-cooldown", cyclesCoolDown.String())
	tenants := []string{"cy0", "cy1"}
	for i, t := range tenants {
		e.link(b, d, t, fmt.Sprintf("155510200%02d", i))
	}
	for _, t := range tenants {
		if _, _, err := d.comeUp([]string{t}, nil, time.Now(), 30*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	profiles := filepath.Join(dataDir, "profiles")
	before := readHygiene(b, d, profiles, len(tenants))
	progress("cycles: baseline %+v; %d SIGKILLs, tenants in turn", before, *cyclesFlag)
	r := &route{}
	for i := 1; i <= *cyclesFlag; i++ {
		t := tenants[i%len(tenants)]
		var tl timeline
		st, err := d.sessions()
		old := st[t].GetBrowser().GetPid()
		if err == nil && (st[t].GetState() != ready || old <= 1) {
			err = fmt.Errorf("tenant %s is %v (pid %d) before the kill", t, st[t].GetState(), old)
		}
		t0 := time.Now()
		if err == nil {
			err = syscall.Kill(int(old), syscall.SIGKILL)
		}
		if err == nil {
			_, tl, err = d.comeUp([]string{t}, map[string]int32{t: old}, t0, 30*time.Second)
		}
		r.record(b, "kill", i, err, tl.ready, nil)
		if i%10 == 0 {
			progress("cycles: %d/%d done (kill → READY p50 %.0f ms)", i, *cyclesFlag, ms(r.total.p50()))
		}
	}
	after := readHygiene(b, d, profiles, len(tenants))
	st, err := d.sessions()
	if err != nil {
		b.Fatal(err)
	}
	var roots []int
	restarts := 0
	for _, t := range tenants {
		roots = append(roots, int(st[t].GetBrowser().GetPid()))
		restarts += int(st[t].GetBrowser().GetRestarts())
	}
	procs := readProcs()
	owned, ofDaemon := descendants(procs, roots...), descendants(procs, d.PID())
	orphans, zombies := 0, 0
	for _, pid := range browserpool.ProcessesUnder(profiles) {
		if !owned[pid] {
			orphans++
		}
	}
	for _, p := range procs {
		if p.state == 'Z' && ofDaemon[p.pid] {
			zombies++
		}
	}
	progress("cycles: after %+v, %d orphans, %d zombies; stopping wapoold (SIGTERM)", after, orphans, zombies)
	took, _ := d.stop()
	left := wapooldtest.WaitNoBrowsers(profiles, 5*time.Second) // the kernel reaps what the group kill left
	b.ReportMetric(float64(r.measured), "cycles")
	b.ReportMetric(float64(r.fail), "failed")
	b.ReportMetric(float64(restarts), "status-restarts")
	b.ReportMetric(ms(r.total.p50()), "kill-p50-ms")
	b.ReportMetric(ms(r.total.p95()), "kill-p95-ms")
	for _, m := range []struct {
		name          string
		before, after float64
	}{
		{"fds", before.fds, after.fds}, {"metric-fds", before.metricFds, after.metricFds},
		{"goroutines", before.goroutines, after.goroutines}, {"procs/profile", before.procs, after.procs},
	} {
		b.ReportMetric(m.before, m.name+"-before")
		b.ReportMetric(m.after, m.name+"-after")
	}
	b.ReportMetric(float64(orphans), "orphans")
	b.ReportMetric(float64(zombies), "zombies")
	b.ReportMetric(float64(d.ExitCode()), "exit-code")
	b.ReportMetric(ms(took), "stop-ms")
	b.ReportMetric(float64(len(left)), "chrome-left")
}

// readHygiene rests for cyclesSettle, counts the daemon's fds (before the
// scrape, so that its socket is not counted), scrapes /metrics and counts
// the processes on the profiles.
func readHygiene(b *testing.B, d *daemon, profiles string, tenants int) hygiene {
	time.Sleep(cyclesSettle) // part of the measurement: a rest, not a condition
	p, err := procfs.NewProc(d.PID())
	if err != nil {
		b.Fatal(err)
	}
	fds, err := p.FileDescriptorsLen()
	if err != nil {
		b.Fatal(err)
	}
	m, err := scrape(d.metrics)
	if err != nil {
		b.Fatal(err)
	}
	return hygiene{fds: float64(fds), metricFds: m["process_open_fds"], goroutines: m["go_goroutines"],
		procs: float64(len(browserpool.ProcessesUnder(profiles))) / float64(tenants)}
}

// proc is one entry of the process table.
type proc struct {
	pid, ppid int
	state     byte
}

// readProcs reads the process table; processes that exit meanwhile are
// left out.
func readProcs() []proc {
	all, _ := procfs.AllProcs()
	var out []proc
	for _, p := range all {
		if st, err := p.Stat(); err == nil && st.State != "" && p.PID != os.Getpid() {
			out = append(out, proc{pid: p.PID, ppid: st.PPID, state: st.State[0]})
		}
	}
	return out
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
