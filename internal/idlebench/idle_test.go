package main

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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

var (
	baseline = flag.String("baseline", "", "cpu_N=20: also measure wapoold built from this git ref of the repository (git archive, go build), in turns with this build")
	// cpuRounds defaults to 1: make bench's table; an A/B run asks for more.
	cpuRounds = flag.Int("cpu-rounds", 1, "cpu_N=20: measures of the idle CPU (of each build, with -baseline); the table shows their median and range")
)

// buildRef builds cmd/wapoold as it was at the git ref ref of the
// repository this package is in (git archive into dir, then go build) and
// returns the binary's path.
func buildRef(tb testing.TB, ref, dir string) string {
	tb.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		tb.Fatalf("-baseline: not in a git checkout: %v", err)
	}
	src := filepath.Join(dir, "baseline-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		tb.Fatal(err)
	}
	archive := exec.Command("git", "-C", strings.TrimSpace(string(top)), "archive", "--format=tar", ref)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	untar.Stdin = pipe
	var aerr strings.Builder
	archive.Stderr = &aerr
	if err := untar.Start(); err != nil {
		tb.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		tb.Fatalf("-baseline: git archive %s: %v: %s", ref, err, aerr.String())
	}
	if err := untar.Wait(); err != nil {
		tb.Fatalf("-baseline: untar: %v", err)
	}
	bin := filepath.Join(dir, "wapoold-baseline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wapoold")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("-baseline: build wapoold at %s: %v\n%s", ref, err, out)
	}
	commit, _ := exec.Command("git", "-C", strings.TrimSpace(string(top)), "rev-parse", "--short", ref).Output()
	progress("baseline: wapoold built at %s (%s)", ref, strings.TrimSpace(string(commit)))
	return bin
}

// BenchmarkIdleCost measures the idle cost of a tenant (issue 13) on one
// wapoold (the real binary, built here, through internal/wapooldtest) with
// default flags but pacing off and --max-warm 40, against an in-process
// fakewa with its default timings. The sub-benchmarks are steps of one
// story and share the daemon, in this order:
//
//	memory_N=10   link t00…t09, one Send each, rest 20 s, read memory
//	memory_N=20   link t10…t19 likewise: N grows on the same daemon
//	cpu_N=20      restart, all READY, rest 20 s; then 20 s of CPU with the
//	              daemon running, 20 s with it SIGSTOPped (-cpu-rounds times;
//	              with -baseline REF, each round measures this build and
//	              REF's on the same fleet, in turns)
//	restart_N=20  SIGTERM, start again, until all 20 are READY
//	cold_N=1      the fleet stopped: a daemon with one linked tenant, until READY
//
// Run it once, whole:
//
//	go test -run '^$' -bench IdleCost -benchtime 1x -timeout 30m -json ./internal/idlebench/ | go run ./internal/idlebench
//
// Before and after a change, side by side in one run (each round restarts
// the fleet on the other build, waits until it is READY and rests 20 s):
//
//	go test -run '^$' -bench IdleCost -benchtime 1x -timeout 60m -json ./internal/idlebench/ -args -baseline REF -cpu-rounds 3 | go run ./internal/idlebench
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
//     restarts: browsers that changed pid across the two windows. Each is
//     the median of the rounds; overhead-min-…, overhead-max-… their range.
//     With -baseline, the same for REF's build prefixed base-, and
//     overhead-ratio: the median of the rounds' this ÷ REF overheads.
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

	r := &run{root: root, bin: bin, dBin: bin, chromium: chromium, url: ts.URL, fake: fake, dataDir: filepath.Join(root, "fleet")}
	if *baseline != "" {
		r.baseBin = buildRef(b, *baseline, root)
	}
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
	dBin                     string              // d's binary: bin or baseBin
	baseBin                  string              // -baseline's build; "" without
	tenants                  []string
	restartAll               time.Duration
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "idlebench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// start runs this build's wapoold on dataDir with default flags, pacing
// off and room for every tenant warm.
func (r *run) start(dataDir string) (*wapooldtest.Daemon, error) {
	return r.startBin(r.bin, dataDir)
}

// startBin is start with the wapoold binary bin.
func (r *run) startBin(bin, dataDir string) (*wapooldtest.Daemon, error) {
	return wapooldtest.Start(context.Background(), wapooldtest.Options{
		Bin: bin,
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

// cpuReading is one measure of the fleet's idle CPU, in % of one core per
// tenant.
type cpuReading struct {
	running, paused, daemon float64
	restarts, exited        int
}

func (c cpuReading) overhead() float64 { return c.running - c.paused }

// cpuOnce measures the idle CPU of the fleet with the daemon running, then
// with it paused.
func (r *run) cpuOnce() (cpuReading, error) {
	n := float64(len(r.tenants))
	before, err := r.browserPIDs()
	if err != nil {
		return cpuReading{}, err
	}
	progress("CPU: %v with the daemon running", cpuWindow)
	da, ba, exA := r.window()
	progress("CPU: %v with the daemon paused (SIGSTOP)", cpuWindow)
	if err := r.d.Signal(syscall.SIGSTOP); err != nil {
		return cpuReading{}, err
	}
	time.Sleep(time.Second) // let the answers to the probes in flight land
	dp, bp, exP := r.window()
	if err := r.d.Signal(syscall.SIGCONT); err != nil {
		return cpuReading{}, err
	}
	if _, _, err := waitReady(r.d, r.tenants, 2*time.Minute); err != nil {
		return cpuReading{}, fmt.Errorf("after SIGCONT: %w", err)
	}
	after, err := r.browserPIDs()
	if err != nil {
		return cpuReading{}, err
	}
	c := cpuReading{exited: exA + exP}
	for t, pid := range before {
		if after[t] != pid {
			c.restarts++
		}
	}
	pct := func(v float64) float64 { return 100 * v / n }
	c.running, c.paused, c.daemon = pct(da+ba), pct(dp+bp), pct(da)
	progress("CPU per tenant: running %.2f %% (daemon %.2f %%), paused %.2f %%, overhead %.2f %% of a core; %d browsers restarted",
		c.running, c.daemon, c.paused, c.overhead(), c.restarts)
	return c, nil
}

// fresh stops the fleet's daemon and starts bin on the same data dir,
// waits until every tenant is READY and rests idleRest: each CPU measure
// starts from the same point, whichever build it measures (the first one
// would otherwise measure browsers fresh from their links and sends).
func (r *run) fresh(bin string) error {
	if r.d != nil {
		_, err := stop(r.d, r.dataDir)
		r.d = nil
		if err != nil {
			return err
		}
	}
	d, err := r.startBin(bin, r.dataDir)
	if err != nil {
		return err
	}
	r.d, r.dBin = d, bin
	if _, _, err := waitReady(r.d, r.tenants, 5*time.Minute); err != nil {
		return err
	}
	progress("%s: all READY; resting %v", r.name(bin), idleRest)
	time.Sleep(idleRest)
	return nil
}

func (r *run) name(bin string) string {
	if bin == r.baseBin {
		return "baseline " + *baseline
	}
	return "this build"
}

// cpu measures the idle CPU -cpu-rounds times, each on a fleet restarted
// (fresh); with -baseline, each round measures this build and the
// baseline's, in turns (ABBA: the order alternates from round to round),
// on the same tenants. It reports the
// median of the rounds and their range; the baseline's as base-…, and the
// median of the rounds' ratios of the overheads.
func (r *run) cpu(b *testing.B) error {
	bins := []string{r.bin}
	if r.baseBin != "" {
		bins = append(bins, r.baseBin)
	}
	got := map[string][]cpuReading{}
	for round := range *cpuRounds {
		order := slices.Clone(bins)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, bin := range order {
			if err := r.fresh(bin); err != nil {
				return err
			}
			progress("CPU round %d of %d: %s", round+1, *cpuRounds, r.name(bin))
			c, err := r.cpuOnce()
			if err != nil {
				return err
			}
			got[bin] = append(got[bin], c)
		}
	}
	if r.dBin != r.bin { // the steps that follow restart this build
		if err := r.fresh(r.bin); err != nil {
			return err
		}
	}
	report := func(prefix string, cs []cpuReading) {
		pick := func(f func(cpuReading) float64) []float64 {
			var v []float64
			for _, c := range cs {
				v = append(v, f(c))
			}
			return v
		}
		ov := pick(cpuReading.overhead)
		b.ReportMetric(median(pick(func(c cpuReading) float64 { return c.running })), prefix+"running-%core/tenant")
		b.ReportMetric(median(pick(func(c cpuReading) float64 { return c.paused })), prefix+"paused-%core/tenant")
		b.ReportMetric(median(ov), prefix+"overhead-%core/tenant")
		b.ReportMetric(slices.Min(ov), prefix+"overhead-min-%core/tenant")
		b.ReportMetric(slices.Max(ov), prefix+"overhead-max-%core/tenant")
		b.ReportMetric(median(pick(func(c cpuReading) float64 { return c.daemon })), prefix+"daemon-%core/tenant")
		b.ReportMetric(median(pick(func(c cpuReading) float64 { return c.running - c.daemon })), prefix+"browsers-running-%core/tenant")
		b.ReportMetric(float64(len(cs)), prefix+"rounds")
		restarts, exited := 0, 0
		for _, c := range cs {
			restarts += c.restarts
			exited += c.exited
		}
		b.ReportMetric(float64(restarts), prefix+"restarts")
		b.ReportMetric(float64(exited), prefix+"exited-procs")
	}
	report("", got[r.bin])
	if r.baseBin != "" {
		report("base-", got[r.baseBin])
		var ratios []float64
		for i, c := range got[r.bin] {
			if base := got[r.baseBin][i].overhead(); base > 0 {
				ratios = append(ratios, c.overhead()/base)
			}
		}
		if len(ratios) > 0 {
			b.ReportMetric(median(ratios), "overhead-ratio")
		}
	}
	return nil
}

// median of v (the mean of the middle two for an even count).
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
