package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/benchtable"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wapooldtest"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

const (
	idleRest    = 20 * time.Second // the rest before a memory reading
	cpuWindow   = 20 * time.Second // each CPU window
	coldReps    = 3                // cold starts; the median is reported
	stopTimeout = 30 * time.Second // the daemon's own bound is 20 s
	ready       = wapoolv1.SessionState_SESSION_STATE_READY
)

// BenchmarkIdleCost measures the idle cost of a tenant (issue 13) on one
// wapoold (the real binary, built here, through internal/wapooldtest) with
// default flags but pacing off and --max-warm 40, against an in-process
// fakewa with its default timings. The sub-benchmarks are steps of one
// story and share the daemon, in this order:
//
//	memory_N=10   link t00…t09, one Send each, rest 20 s, read memory
//	memory_N=20   link t10…t19 likewise: N grows on the same daemon
//	cpu_N=20      20 s of CPU with the daemon running, 20 s with it SIGSTOPped
//	restart_N=20  SIGTERM, start again, until all 20 are READY
//	cold_N=1      the fleet stopped: a daemon with one linked tenant, until READY
//
// Run it once, whole:
//
//	go test -run '^$' -bench IdleCost -benchtime 1x -timeout 30m -json ./internal/idlebench/ | go run ./internal/idlebench
//
// Metrics (MiB are 2^20 bytes):
//   - MemAvail-MiB/tenant: MemAvailable before the daemon started minus
//     now, divided by N; MemAvailCorr-MiB/tenant: the same minus what the
//     machine's other processes (Pss_Anon + Pss_Shmem) and this process
//     took meanwhile: the machine is shared; others-MiB: that change of
//     the other processes, total.
//   - PSS-MiB/tenant, USS-MiB/tenant, procs/tenant: smaps_rollup summed
//     over every browser under the data dir, divided by N; daemon-RSS-MiB.
//   - running-%core/tenant, paused-%core/tenant, overhead-%core/tenant:
//     utime+stime (/proc/<pid>/stat) of the daemon and every browser
//     process, per second of the window, as % of one core, divided by N;
//     daemon-%core/tenant, browsers-running-%core/tenant split (a);
//     restarts: browsers that changed pid across the two windows.
//   - all-READY-s, first-READY-s: from the restarted daemon's start;
//     stop-s: SIGTERM until it exited.
//   - cold-READY-s (median of 3), restart-x-cold: all-READY-s ÷
//     ((N / warm-parallel) × cold-READY-s), the goal ≤ 1.5.
//
// Progress goes to stderr as "idlebench: …" lines.
func BenchmarkIdleCost(b *testing.B) {
	chromium := chromiumtest.Path(b)
	root := b.TempDir()
	bin := wapooldtest.Build(b, root)
	fake := fakewa.New(fakewa.Options{}) // the default timings
	ts := httptest.NewServer(fake)
	defer ts.Close()
	defer fake.Close()

	r := &run{root: root, bin: bin, chromium: chromium, url: ts.URL, fake: fake, dataDir: filepath.Join(root, "fleet")}
	defer r.cleanup(b)
	base, err := readMemory(r.dataDir, 0)
	if err != nil {
		b.Fatal(err)
	}
	r.base = base
	progress("MemAvailable before the daemon: %.0f MiB", mib(base.avail))
	if r.d, err = r.start(r.dataDir); err != nil {
		b.Fatal(err)
	}
	b.Run("memory_N=10", func(b *testing.B) { r.Step(b, func(b *testing.B) error { return r.memory(b, 10) }) })
	b.Run("memory_N=20", func(b *testing.B) { r.Step(b, func(b *testing.B) error { return r.memory(b, 20) }) })
	b.Run("cpu_N=20", func(b *testing.B) { r.Step(b, r.cpu) })
	b.Run("restart_N=20", func(b *testing.B) { r.Step(b, r.restart) })
	b.Run("cold_N=1", func(b *testing.B) { r.Step(b, r.cold) })
}

// run is the state the steps share. The benchmark's goroutine alone uses
// it: the steps run one after the other.
type run struct {
	benchtable.Steps
	root, bin, chromium, url string
	fake                     *fakewa.Server
	dataDir                  string // the fleet's
	base                     memReading
	d                        *wapooldtest.Daemon // the fleet's daemon now; nil when stopped
	tenants                  []string
	restartAll               time.Duration
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "idlebench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// start runs wapoold on dataDir with default flags, pacing off and room
// for every tenant warm.
func (r *run) start(dataDir string) (*wapooldtest.Daemon, error) {
	return wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin: r.bin,
		Args: []string{
			"--data-dir", dataDir, "--target-url", r.url, "--chromium", r.chromium,
			"--send-interval", "0", "--send-jitter", "0", "--max-warm", "40",
			"--metrics-addr", "", "--log-format", "json",
		},
	})
}

// stop stops d with SIGTERM and checks that no browser is left under dir.
func stop(d *wapooldtest.Daemon, dir string) (time.Duration, error) {
	t := time.Now()
	_ = d.Close()
	code, err := d.Stop(stopTimeout)
	took := time.Since(t)
	if err != nil {
		return took, err
	}
	if code != 0 {
		return took, fmt.Errorf("wapoold exited with %d after SIGTERM", code)
	}
	if left := wapooldtest.WaitNoBrowsers(dir, 10*time.Second); left != nil {
		return took, fmt.Errorf("browsers left after the daemon's exit: %v", left)
	}
	return took, nil
}

// cleanup stops whatever still runs and makes sure no Chrome outlives the
// run.
func (r *run) cleanup(b *testing.B) {
	if r.d != nil && r.d.Running() {
		_ = r.d.Signal(syscall.SIGCONT) // in case a step failed while it was paused
		if _, err := stop(r.d, r.dataDir); err != nil {
			b.Errorf("clean-up: %v", err)
		}
	}
	if left := wapooldtest.WaitNoBrowsers(r.root, 10*time.Second); left != nil {
		b.Errorf("clean-up: browsers left %v: killed", left)
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		wapooldtest.WaitNoBrowsers(r.root, 10*time.Second)
	}
}

func fleetPhone(i int) string { return fmt.Sprintf("155510010%02d", i) }
func recipient(i int) string  { return fmt.Sprintf("1555200%04d", i+1) }

// link links tenant on d, scanning its QR code with phone through fakewa.
func (r *run) link(d *wapooldtest.Daemon, tenant, phone string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, err := d.Link(ctx, tenant, func(code string) error { return r.fake.Scan(code, phone) })
	return err
}

// sessions returns every tenant's session by id.
func sessions(d *wapooldtest.Daemon) (map[string]*wapoolv1.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Sessions(ctx)
}

// waitReady polls ListSessions every 50 ms until every tenant is READY and
// returns, from the daemon's start, when the first and the last were.
func waitReady(d *wapooldtest.Daemon, tenants []string, timeout time.Duration) (first, all time.Duration, err error) {
	end := time.Now().Add(timeout)
	for {
		st, err := sessions(d)
		n := 0
		if err == nil {
			for _, t := range tenants {
				if s := st[t]; s != nil && s.State == ready {
					n++
				}
			}
		}
		if n > 0 && first == 0 {
			first = time.Since(d.StartedAt())
		}
		if n == len(tenants) {
			return first, time.Since(d.StartedAt()), nil
		}
		if time.Now().After(end) {
			return first, 0, fmt.Errorf("%d of %d tenants READY after %v (last error %v)", n, len(tenants), timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memory grows the fleet to n linked tenants, each of the new ones sends
// one message, rests 20 s, and reads the memory.
func (r *run) memory(b *testing.B, n int) error {
	var added []string
	for i := len(r.tenants); i < n; i++ {
		t := fmt.Sprintf("t%02d", i)
		progress("linking %s (%d of %d)", t, i+1, n)
		if err := r.link(r.d, t, fleetPhone(i)); err != nil {
			return err
		}
		r.tenants = append(r.tenants, t)
		added = append(added, t)
	}
	for i, t := range added {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		resp, err := r.d.Client().Send(ctx, &wapoolv1.SendRequest{TenantId: t, To: recipient(len(r.tenants) - len(added) + i), Text: "idle cost " + t})
		cancel()
		if err != nil {
			return fmt.Errorf("send from %s: %w", t, err)
		}
		if resp.Message.State != wapoolv1.MessageState_MESSAGE_STATE_SENT {
			return fmt.Errorf("send from %s: %v %s", t, resp.Message.State, resp.Message.Error)
		}
	}
	progress("%d tenants linked, each sent one message; resting %v", n, idleRest)
	time.Sleep(idleRest) // the rest is part of the measurement, not a wait for a condition
	if _, _, err := waitReady(r.d, r.tenants, time.Second); err != nil {
		return err
	}
	now, err := readMemory(r.dataDir, r.d.PID())
	if err != nil {
		return err
	}
	browsers := browserpool.ProcessesUnder(r.dataDir)
	m := browserpool.MemoryOf(browsers)
	drop := float64(int64(r.base.avail) - int64(now.avail))
	others := float64(int64(now.foreign) - int64(r.base.foreign))
	self := float64(int64(now.self) - int64(r.base.self))
	fn := float64(n)
	b.ReportMetric(drop/(1<<20)/fn, "MemAvail-MiB/tenant")
	b.ReportMetric((drop-others-self)/(1<<20)/fn, "MemAvailCorr-MiB/tenant")
	b.ReportMetric(others/(1<<20), "others-MiB")
	b.ReportMetric(mib(m.PSS)/fn, "PSS-MiB/tenant")
	b.ReportMetric(mib(m.USS)/fn, "USS-MiB/tenant")
	b.ReportMetric(float64(m.Procs)/fn, "procs/tenant")
	b.ReportMetric(mib(rssOf(r.d.PID())), "daemon-RSS-MiB")
	progress("N=%d: MemAvailable drop %.1f MiB/tenant (%.1f corrected, others %+.0f MiB), PSS %.1f MiB/tenant",
		n, drop/(1<<20)/fn, (drop-others-self)/(1<<20)/fn, others/(1<<20), mib(m.PSS)/fn)
	return nil
}

// browserPIDs is each tenant's browser pid, from ListSessions.
func (r *run) browserPIDs() (map[string]int32, error) {
	st, err := sessions(r.d)
	if err != nil {
		return nil, err
	}
	out := map[string]int32{}
	for _, t := range r.tenants {
		if s := st[t]; s != nil {
			out[t] = s.Browser.GetPid()
		}
	}
	return out, nil
}

// window reads the CPU time the daemon and the browsers spend over
// cpuWindow, in seconds per second of wall time.
func (r *run) window() (daemon, browsers float64, exited int) {
	daemonPID := r.d.PID()
	d0 := cpuSeconds([]int{daemonPID})
	b0 := cpuSeconds(browserpool.ProcessesUnder(r.dataDir))
	t0 := time.Now()
	time.Sleep(cpuWindow)
	b1 := cpuSeconds(browserpool.ProcessesUnder(r.dataDir))
	d1 := cpuSeconds([]int{daemonPID})
	el := time.Since(t0).Seconds()
	ds, _ := cpuSpent(d0, d1)
	bs, exited := cpuSpent(b0, b1)
	return ds / el, bs / el, exited
}

// cpu measures the idle CPU of the fleet with the daemon running, then
// with it paused.
func (r *run) cpu(b *testing.B) error {
	n := float64(len(r.tenants))
	before, err := r.browserPIDs()
	if err != nil {
		return err
	}
	progress("CPU: %v with the daemon running", cpuWindow)
	da, ba, exA := r.window()
	progress("CPU: %v with the daemon paused (SIGSTOP)", cpuWindow)
	if err := r.d.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(time.Second) // let the answers to the probes in flight land
	dp, bp, exP := r.window()
	if err := r.d.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	if _, _, err := waitReady(r.d, r.tenants, 2*time.Minute); err != nil {
		return fmt.Errorf("after SIGCONT: %w", err)
	}
	after, err := r.browserPIDs()
	if err != nil {
		return err
	}
	restarts := 0
	for t, pid := range before {
		if after[t] != pid {
			restarts++
		}
	}
	pct := func(v float64) float64 { return 100 * v / n }
	b.ReportMetric(pct(da+ba), "running-%core/tenant")
	b.ReportMetric(pct(dp+bp), "paused-%core/tenant")
	b.ReportMetric(pct(da+ba-dp-bp), "overhead-%core/tenant")
	b.ReportMetric(pct(da), "daemon-%core/tenant")
	b.ReportMetric(pct(ba), "browsers-running-%core/tenant")
	b.ReportMetric(float64(restarts), "restarts")
	b.ReportMetric(float64(exA+exP), "exited-procs")
	progress("CPU per tenant: running %.2f %% (daemon %.2f %%), paused %.2f %%, overhead %.2f %% of a core; %d browsers restarted",
		pct(da+ba), pct(da), pct(dp+bp), pct(da+ba-dp-bp), restarts)
	return nil
}

// restart stops the fleet's daemon with SIGTERM and starts it again.
func (r *run) restart(b *testing.B) error {
	progress("restart: SIGTERM with %d tenants", len(r.tenants))
	took, err := stop(r.d, r.dataDir)
	r.d = nil
	if err != nil {
		return err
	}
	if r.d, err = r.start(r.dataDir); err != nil {
		return err
	}
	first, all, err := waitReady(r.d, r.tenants, 5*time.Minute)
	if err != nil {
		return err
	}
	r.restartAll = all
	b.ReportMetric(all.Seconds(), "all-READY-s")
	b.ReportMetric(first.Seconds(), "first-READY-s")
	b.ReportMetric(took.Seconds(), "stop-s")
	progress("restart: all %d READY after %.1f s (first %.1f s); the stop took %.1f s", len(r.tenants), all.Seconds(), first.Seconds(), took.Seconds())
	return nil
}

// cold stops the fleet, links one tenant on a daemon of its own, and
// times coldReps starts of that daemon until the tenant is READY.
func (r *run) cold(b *testing.B) error {
	if r.d != nil {
		_, err := stop(r.d, r.dataDir)
		r.d = nil
		if err != nil {
			return err
		}
	}
	dir := filepath.Join(r.root, "cold")
	d, err := r.start(dir)
	if err != nil {
		return err
	}
	err = r.link(d, "c00", "15551002000")
	if _, serr := stop(d, dir); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	var starts []time.Duration
	for i := range coldReps {
		d, err := r.start(dir)
		if err != nil {
			return err
		}
		_, all, err := waitReady(d, []string{"c00"}, 2*time.Minute)
		if _, serr := stop(d, dir); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		progress("cold start %d: READY after %.2f s", i+1, all.Seconds())
		starts = append(starts, all)
	}
	slices.Sort(starts)
	cold := starts[len(starts)/2]
	b.ReportMetric(cold.Seconds(), "cold-READY-s")
	b.ReportMetric(starts[0].Seconds(), "cold-min-s")
	b.ReportMetric(starts[len(starts)-1].Seconds(), "cold-max-s")
	if r.restartAll > 0 {
		n := float64(len(r.tenants))
		b.ReportMetric(r.restartAll.Seconds()/(n/warmParallel*cold.Seconds()), "restart-x-cold")
	}
	return nil
}
