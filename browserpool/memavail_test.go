package browserpool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/memory"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/procmem"
)

// BenchmarkMemAvailable measures what one warm, idle tenant takes from the
// machine (issue 13): the drop in MemAvailable (/proc/meminfo) from before
// the browsers start to after N tenants are linked to an in-process fakewa,
// have each sent one message (deep link, Input.insertText, a click on the
// send button, the server's tick) and have idled 20 s, divided by N. Each
// candidate configuration is a sub-benchmark, measured in turn in one run,
// so that they can be compared side by side:
//
//	go test -run '^$' -bench MemAvailable -benchtime 1x -timeout 90m ./browserpool/
//	WAPOOL_MEM_N=20 go test -run '^$' -bench 'MemAvailable/^(lean-v1|lean|shared-browser)$' -benchtime 1x -timeout 60m ./browserpool/
//
// Every candidate at N=10 takes about 15 minutes on 2 cores.
//
// Knobs (environment): WAPOOL_MEM_N tenants per candidate (default 10),
// WAPOOL_MEM_IDLE the rest after the last send (default 20s),
// WAPOOL_MEM_PARALLEL tenants started at once (default 2, the cores of the
// build machine), WAPOOL_MEM_QUIET how long to wait, before each reading of
// MemAvailable, for other Chromiums on the machine to end (default 0).
//
// Metrics per candidate (MiB are 2^20 bytes, per tenant unless named total):
//   - MemAvail-MiB/tenant: the figure, the raw drop divided by N.
//   - MemAvailCorr-MiB/tenant: the same, minus what processes other than
//     these browsers and this test took meanwhile (the change in their
//     Pss_Anon + Pss_Shmem, page tables and kernel stacks, see snapshot):
//     the build machine is shared, and other test runs come and go. On a
//     quiet machine the two agree.
//   - own-MiB/tenant: what the browsers hold that MemAvailable cannot
//     count as reclaimable, read from their own /proc entries (Pss_Anon +
//     Pss_Shmem, page tables, kernel stacks), plus this process's growth:
//     blind to other processes, so steady on a busy machine; it leaves out
//     the kernel's other memory (sockets, slab).
//   - PSS-MiB/tenant, USS-MiB/tenant: smaps_rollup summed over each
//     tenant's processes, divided by N.
//   - renderer-USS-MiB/tenant: the part of USS in renderer processes, i.e.
//     the page; JSheap-MiB/tenant: V8's used heap (Runtime.getHeapUsage).
//   - procs/tenant; wasm (1 when WebAssembly still instantiates a module:
//     WhatsApp Web needs it); self-MiB-total: this test process's own
//     growth (fakewa, chromedp), included in the raw drop.
//   - x-lean, own-x-lean: MemAvailCorr and own against the "lean-v1"
//     candidate (the Lean set before issue 13) of the same run.
//
// At the end it prints a markdown table of every candidate that ran, and
// each candidate's USS by process type. docs/memory.md holds the results
// and the method.
func BenchmarkMemAvailable(b *testing.B) {
	n := envInt(b, "WAPOOL_MEM_N", 10)
	idle := envDuration(b, "WAPOOL_MEM_IDLE", 20*time.Second)
	par := envInt(b, "WAPOOL_MEM_PARALLEL", 2)
	quiet := envDuration(b, "WAPOOL_MEM_QUIET", 0)
	var results []memResult
	for _, c := range memCandidates {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := measureFleet(b, c, n, par, idle, quiet)
				results = append(results, r)
				r.report(b, results)
			}
		})
	}
	if len(results) > 0 {
		// To standard output: a parent benchmark's log shows only on failure.
		fmt.Printf("\nBenchmarkMemAvailable: N=%d tenants per candidate, %v idle after the last send\n\n%s\n", n, idle, memTable(results))
	}
}

// memCandidate is one configuration that BenchmarkMemAvailable measures.
type memCandidate struct {
	name  string
	lean  bool           // Config.Lean
	extra map[string]any // Config.ExtraFlags
	// blank: the tenants stay on about:blank (no app, no link, no send):
	// what the browser costs without the page.
	blank bool
	// purge: after its send, each page gets Memory.simulatePressureNotification
	// (critical), what a daemon could send an idle tenant.
	purge bool
	// shared: one Chromium for all tenants, each a persistent profile of its
	// own (--profile-directory) opened into the running browser.
	shared bool
	note   string
}

// memReference is the candidate that x-lean compares with.
const memReference = "lean-v1"

// leanDisabled is the --disable-features value of the Lean set with more
// features disabled.
func leanDisabled(more string) string {
	return browserpool.LeanFlags()["disable-features"].(string) + "," + more
}

// headlessFeatures are features that plausibly cost memory in a headless
// browser that shows one app and has no user: casting, media controls,
// optimization-guide hints and models, autofill's server, Windows occlusion,
// feeds, certificate-transparency and privacy-sandbox components, Lens,
// segmentation models.
const headlessFeatures = "MediaRouter,DialMediaRouteProvider,GlobalMediaControls,OptimizationHints," +
	"OptimizationHintsFetching,OptimizationGuideModelDownloading,OptimizationTargetPrediction," +
	"AutofillServerCommunication,CalculateNativeWinOcclusion,InterestFeedContentSuggestions," +
	"CertificateTransparencyComponentUpdater,PrivacySandboxSettings4,LensOverlay,SegmentationPlatform"

// v1 are ExtraFlags that take back from the Lean set what issue 13 added,
// merged with more: the Lean set as it was before, the reference of x-lean.
func v1(more map[string]any) map[string]any {
	m := map[string]any{"enable-features": false, "in-process-gpu": false, "no-unsandboxed-zygote": false}
	for k, v := range more {
		m[k] = v
	}
	return m
}

// memCandidates are measured in this order; "lean-v1" first, the reference
// of the x-lean ratio. The lean+… candidates add to the current Lean set.
var memCandidates = []memCandidate{
	{name: "lean-v1", lean: true, extra: v1(nil), note: "the Lean set before issue 13 (the daemon's default then)"},
	{name: "default", note: "browserpool's flags without Lean"},
	{name: "lean-v1+net-in-process", lean: true, extra: v1(map[string]any{"enable-features": "NetworkServiceInProcess2"}),
		note: "network service as a thread of the browser process"},
	{name: "lean-v1+in-process-gpu", lean: true, extra: v1(map[string]any{"in-process-gpu": true}),
		note: "GPU (compositing) thread in the browser process"},
	{name: "lean-v1+no-unsandboxed-zygote", lean: true, extra: v1(map[string]any{"no-unsandboxed-zygote": true}),
		note: "one zygote instead of two"},
	{name: "lean", lean: true, note: "**chosen**: lean-v1 + the three above (browserpool.LeanFlags now)"},
	{name: "lean-blank", lean: true, blank: true, note: "no app: the browser alone, on about:blank"},
	{name: "lean+no-bfcache", lean: true, extra: map[string]any{"disable-features": leanDisabled("BackForwardCache")},
		note: "the page left by the deep link is not kept"},
	{name: "lean+headless-features", lean: true, extra: map[string]any{"disable-features": leanDisabled(headlessFeatures)},
		note: "14 more features off"},
	{name: "lean+semi-space-1", lean: true, extra: map[string]any{"js-flags": "--max-semi-space-size=1"},
		note: "V8 young generation ≤ 1 MB per semi-space"},
	{name: "lean+optimize-for-size", lean: true, extra: map[string]any{"js-flags": "--optimize-for-size"}},
	{name: "lean+lite-mode", lean: true, extra: map[string]any{"js-flags": "--lite-mode"},
		note: "V8 lite mode: breaks WebAssembly"},
	{name: "lean+max-old-space-64", lean: true, extra: map[string]any{"js-flags": "--max-old-space-size=64"},
		note: "a ceiling, not a saving: an app past it crashes"},
	{name: "lean+low-end-device", lean: true, extra: map[string]any{"enable-low-end-device-mode": true}},
	{name: "lean+process-per-site", lean: true, extra: map[string]any{"process-per-site": true}},
	{name: "lean+no-brp", lean: true, extra: map[string]any{"disable-features": leanDisabled("PartitionAllocBackupRefPtr")},
		note: "PartitionAlloc without BackupRefPtr (a use-after-free guard)"},
	{name: "lean+window-800x600", lean: true, extra: map[string]any{"window-size": "800,600"},
		note: "smaller viewport, fewer raster tiles"},
	{name: "lean+pressure-purge", lean: true, purge: true,
		note: "CDP critical memory-pressure signal after the send"},
	{name: "lean+single-process", lean: true, extra: map[string]any{"single-process": true},
		note: "rejected: supervision breaks"},
	{name: "shared-browser", lean: true, shared: true,
		extra: map[string]any{"headless": false, "ozone-platform": "headless"},
		note:  "one Chromium, each tenant a persistent profile (--profile-directory)"},
}

// memResult is one candidate's measurement, summed over its tenants.
type memResult struct {
	c                        memCandidate
	n                        int
	availDrop, foreign, self int64  // bytes: MemAvailable drop; other processes' and this process's growth
	own                      int64  // bytes: what the browsers hold that MemAvailable cannot reclaim, plus self
	pss, uss, renderer, heap uint64 // bytes
	procs                    int
	byType                   map[string]uint64 // USS by process type
	wasm                     bool
	contexts                 int // shared: distinct browser contexts of the tenants' pages
	crashLost                int // shared: pages lost to one renderer's SIGKILL
	launch, drive            time.Duration
}

func (r memResult) perTenant(v int64) float64 { return float64(v) / float64(r.n) / (1 << 20) }
func (r memResult) corrected() int64          { return r.availDrop - r.foreign }

func (r memResult) report(b *testing.B, all []memResult) {
	b.ReportMetric(r.perTenant(r.availDrop), "MemAvail-MiB/tenant")
	b.ReportMetric(r.perTenant(r.corrected()), "MemAvailCorr-MiB/tenant")
	b.ReportMetric(r.perTenant(r.own), "own-MiB/tenant")
	b.ReportMetric(r.perTenant(int64(r.pss)), "PSS-MiB/tenant")
	b.ReportMetric(r.perTenant(int64(r.uss)), "USS-MiB/tenant")
	b.ReportMetric(r.perTenant(int64(r.renderer)), "renderer-USS-MiB/tenant")
	b.ReportMetric(r.perTenant(int64(r.heap)), "JSheap-MiB/tenant")
	b.ReportMetric(float64(r.procs)/float64(r.n), "procs/tenant")
	b.ReportMetric(float64(r.self)/(1<<20), "self-MiB-total")
	b.ReportMetric(float64(r.foreign)/(1<<20), "foreign-MiB-total")
	wasm := 0.0
	if r.wasm {
		wasm = 1
	}
	b.ReportMetric(wasm, "wasm")
	if i := slices.IndexFunc(all, func(x memResult) bool { return x.c.name == memReference && x.n == r.n }); i >= 0 {
		b.ReportMetric(float64(r.corrected())/float64(all[i].corrected()), "x-lean")
		b.ReportMetric(float64(r.own)/float64(all[i].own), "own-x-lean")
	}
	// The metrics above are not printed with -v only: say it in the log too.
	b.Logf("%s: MemAvailable %.1f MiB/tenant (corrected %.1f; others %+.0f MiB, this process %+.0f MiB), own %.1f, PSS %.1f, USS %.1f (renderer %.1f), JS heap %.1f, %.1f procs; launch %v, link+send %v",
		r.c.name, r.perTenant(r.availDrop), r.perTenant(r.corrected()), float64(r.foreign)/(1<<20), float64(r.self)/(1<<20), r.perTenant(r.own),
		r.perTenant(int64(r.pss)), r.perTenant(int64(r.uss)), r.perTenant(int64(r.renderer)), r.perTenant(int64(r.heap)),
		float64(r.procs)/float64(r.n), r.launch.Round(time.Millisecond), r.drive.Round(time.Millisecond))
}

// memTable renders the results as a markdown table, with each candidate's
// USS by process type below it.
func memTable(rs []memResult) string {
	var ref *memResult
	for i := range rs {
		if rs[i].c.name == memReference {
			ref = &rs[i]
		}
	}
	ratio := func(v, of int64) string {
		if ref == nil || of == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", float64(v)/float64(of))
	}
	var sb strings.Builder
	sb.WriteString("| candidate | N | MemAvailable MiB/tenant | corrected | own | × " + memReference + " (corrected) | × " + memReference + " (own) | PSS MiB/tenant | USS | renderer USS | JS heap | processes/tenant | wasm | notes |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rs {
		var rc, ro string
		if ref != nil && ref.n == r.n {
			rc, ro = ratio(r.corrected(), ref.corrected()), ratio(r.own, ref.own)
		} else {
			rc, ro = "—", "—"
		}
		note := r.c.note
		if r.c.shared {
			note += fmt.Sprintf("; %d browser contexts for %d tenants; one renderer SIGKILL lost %d page(s)", r.contexts, r.n, r.crashLost)
		}
		fmt.Fprintf(&sb, "| %s | %d | %.1f | %.1f | %.1f | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %v | %s |\n",
			r.c.name, r.n, r.perTenant(r.availDrop), r.perTenant(r.corrected()), r.perTenant(r.own), rc, ro,
			r.perTenant(int64(r.pss)), r.perTenant(int64(r.uss)), r.perTenant(int64(r.renderer)), r.perTenant(int64(r.heap)),
			float64(r.procs)/float64(r.n), r.wasm, note)
	}
	sb.WriteString("\nUSS MiB per tenant by process type:\n\n")
	for _, r := range rs {
		types := make([]string, 0, len(r.byType))
		for t := range r.byType {
			types = append(types, t)
		}
		slices.Sort(types)
		parts := make([]string, 0, len(types))
		for _, t := range types {
			parts = append(parts, fmt.Sprintf("%s %.1f", t, r.perTenant(int64(r.byType[t]))))
		}
		fmt.Fprintf(&sb, "- %s: %s\n", r.c.name, strings.Join(parts, ", "))
	}
	return sb.String()
}

// memTenant is one tenant of a fleet: its page, and the profile its
// processes name.
type memTenant struct {
	tab     context.Context
	cancel  func() // nil for a browser's own first tab
	profile string // --user-data-dir of its processes
	phone   string
}

// phoneSeq makes every linked account of a run its own.
var phoneSeq atomic.Int64

const (
	memRecipient  = "15550002222"
	memText       = "order 1042 has shipped"
	memQRJS       = `(() => { const c = document.querySelector('.landing-wrapper canvas[aria-label]'); const h = c && c.closest('[data-ref]'); return h ? h.getAttribute('data-ref') : ''; })()`
	memLinkedJS   = `document.querySelector('#pane-side') ? 'yes' : ''`
	memComposeSel = `footer div[contenteditable="true"][role="textbox"]`
	memSendSel    = `footer button span[data-icon="send"]`
	memTickJS     = `document.querySelector('#main div[data-id] [data-icon="msg-check"], #main div[data-id] [data-icon="msg-dblcheck"]') ? 'yes' : ''`
	memWasmJS     = `(() => { try { new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0]))); return 'yes'; } catch (e) { return 'no'; } })()`
)

// measureFleet runs one candidate: baseline, N tenants started, linked and
// sending, the rest, the readings, and the stop. It fails tb when a tenant
// cannot link or send: a candidate that breaks the page is not measured.
func measureFleet(tb testing.TB, c memCandidate, n, par int, idle, quiet time.Duration) memResult {
	r := memResult{c: c, n: n, byType: map[string]uint64{}}
	dir, err := os.MkdirTemp("", "bpa")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	fake := fakewa.New(fakewa.FastOptions())
	ts := httptest.NewServer(fake)
	defer ts.Close()
	defer fake.Close() // first: wakes the pages' waiting polls

	cfg := browserpool.Config{ExecPath: chromiumtest.Path(tb), Lean: c.lean, ExtraFlags: c.extra, StopTimeout: 5 * time.Second}

	// Baseline: what the previous candidate freed has settled.
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(3 * time.Second)
	before := snapshot(dir, quiet)

	var browsers []*browserpool.Browser
	var tenants []*memTenant
	defer func() {
		for _, t := range tenants {
			if t.cancel != nil {
				t.cancel()
			}
		}
		var wg sync.WaitGroup
		for _, br := range browsers {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := br.Stop(ctx); err != nil {
					tb.Errorf("stop: %v", err)
				}
			})
		}
		wg.Wait()
		if left := browserpool.ProcessesUnder(dir); len(left) > 0 {
			tb.Errorf("%s: processes left after Stop: %v", c.name, left)
		}
	}()

	start := time.Now()
	if c.shared {
		br, shared := openShared(tb, cfg, dir, ts.URL, n)
		browsers, tenants = append(browsers, br), shared
	} else {
		browsers = make([]*browserpool.Browser, n)
		tenants = make([]*memTenant, n)
		errs := forEach(n, par, func(i int) error {
			spec := testSpec(dir, fmt.Sprintf("t%d", i))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			br, err := browserpool.Launch(ctx, cfg, spec)
			if err != nil {
				return err
			}
			browsers[i] = br
			tenants[i] = &memTenant{tab: br.Ctx(), profile: br.Spec().ProfileDir}
			return nil
		})
		browsers = slices.DeleteFunc(browsers, func(b *browserpool.Browser) bool { return b == nil })
		tenants = slices.DeleteFunc(tenants, func(t *memTenant) bool { return t == nil })
		if err := errors.Join(errs...); err != nil {
			tb.Fatalf("%s: launch: %v", c.name, err)
		}
	}
	r.launch = time.Since(start)

	start = time.Now()
	if !c.blank {
		errs := forEach(n, par, func(i int) error {
			t := tenants[i]
			t.phone = fmt.Sprintf("1555%07d", phoneSeq.Add(1))
			return linkAndSend(t, fake, ts.URL, c.purge)
		})
		if err := errors.Join(errs...); err != nil {
			tb.Fatalf("%s: link and send: %v", c.name, err)
		}
	}
	r.drive = time.Since(start)

	// The rest is part of the measurement, not a stand-in for a condition.
	time.Sleep(idle)

	after := snapshot(dir, quiet)
	r.availDrop = int64(before.Avail) - int64(after.Avail)
	r.foreign = int64(after.Foreign) - int64(before.Foreign)
	r.self = int64(after.Self) - int64(before.Self)
	for _, pid := range browserpool.ProcessesUnder(dir) {
		r.own += int64(ownUse(pid))
	}
	r.own += r.self
	seen := map[int]bool{}
	for _, t := range tenants {
		for _, pid := range browserpool.ProcessesOnProfile(t.profile) {
			if seen[pid] {
				continue // a shared browser: one profile dir for all tenants
			}
			seen[pid] = true
			m, ok := procmem.Rollup(pid)
			if !ok {
				continue
			}
			r.procs++
			r.pss += m["Pss"]
			uss := m["Private_Clean"] + m["Private_Dirty"]
			r.uss += uss
			typ := processType(pid)
			r.byType[typ] += uss
			if strings.HasPrefix(typ, "renderer") {
				r.renderer += uss
			}
		}
	}
	// What the pages hold, read after the memory (these calls wake them).
	for _, t := range tenants {
		ctx, cancel := context.WithTimeout(t.tab, 5*time.Second)
		h, err := chromedp.Call(ctx, cdpruntime.GetHeapUsage, cdp.Empty{})
		cancel()
		if err == nil {
			r.heap += uint64(h.UsedSize)
		}
	}
	if v, err := evalString(tenants[0].tab, memWasmJS, 5*time.Second); err == nil {
		r.wasm = v == "yes"
	}
	if c.shared {
		r.contexts = browserContexts(tb, tenants)
		r.crashLost = crashOneRenderer(tb, browsers[0], tenants)
	}
	return r
}

// linkAndSend opens the app in t's tab, reads the QR code, scans it as
// t.phone, waits for the main screen, then sends one message by deep link:
// Input.insertText into the compose box, a click on the send button, and
// the server's tick on the bubble.
func linkAndSend(t *memTenant, fake *fakewa.Server, base string, purge bool) error {
	if err := navigateTab(t.tab, base+"/"); err != nil {
		return err
	}
	code, err := waitJS(t.tab, "the QR code", memQRJS, 20*time.Second)
	if err != nil {
		return err
	}
	if err := fake.Scan(code, t.phone); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if _, err := waitJS(t.tab, "the main screen", memLinkedJS, 20*time.Second); err != nil {
		return err
	}
	if err := navigateTab(t.tab, base+"/send?phone="+memRecipient); err != nil {
		return err
	}
	if _, err := waitJS(t.tab, "the compose box", `document.querySelector('`+memComposeSel+`') ? 'yes' : ''`, 20*time.Second); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.tab, 10*time.Second)
	err = chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(memComposeSel)), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: memText})
		return err
	}))
	cancel()
	if err != nil {
		return fmt.Errorf("type: %w", err)
	}
	if _, err := waitJS(t.tab, "the send button", `document.querySelector('`+memSendSel+`') ? 'yes' : ''`, 10*time.Second); err != nil {
		return err
	}
	ctx, cancel = context.WithTimeout(t.tab, 10*time.Second)
	err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(memSendSel)))
	cancel()
	if err != nil {
		return fmt.Errorf("click send: %w", err)
	}
	if _, err := waitJS(t.tab, "the tick", memTickJS, 20*time.Second); err != nil {
		return err
	}
	if !slices.ContainsFunc(fake.Messages(t.phone), func(m fakewa.Message) bool { return m.Text == memText && m.To == memRecipient }) {
		return fmt.Errorf("account %s: fakewa has no message %q", t.phone, memText)
	}
	if purge {
		ctx, cancel := context.WithTimeout(t.tab, 10*time.Second)
		defer cancel()
		if _, err := chromedp.Call(ctx, memory.SimulatePressureNotification, memory.SimulatePressureNotificationParams{Level: memory.PressureLevelCritical}); err != nil {
			return fmt.Errorf("pressure: %w", err)
		}
	}
	return nil
}

// openShared starts one Chromium (not --headless: in headless mode Chrome
// refuses a second profile, "Failed to create a ProcessSingleton"; with the
// headless Ozone platform it is the full browser without a display) and
// opens N-1 more persistent profiles into it the way desktop Chrome does:
// a second invocation on the same --user-data-dir with
// --profile-directory="Profile i" hands its command line to the running
// browser through the SingletonSocket and exits. Tenant 0 is the Default
// profile's first tab; tenant i the new tab of "Profile i".
func openShared(tb testing.TB, cfg browserpool.Config, dir, base string, n int) (*browserpool.Browser, []*memTenant) {
	spec := testSpec(dir, "shared")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	br, err := browserpool.Launch(ctx, cfg, spec)
	cancel()
	if err != nil {
		tb.Fatalf("shared: launch: %v", err)
	}
	ud := br.Spec().ProfileDir
	tenants := []*memTenant{{tab: br.Ctx(), profile: ud}}
	fail := func(format string, args ...any) {
		for _, t := range tenants {
			if t.cancel != nil {
				t.cancel()
			}
		}
		_ = br.Stop(context.Background())
		tb.Fatalf("shared: "+format, args...)
	}
	known := map[target.ID]bool{}
	if ts, err := chromedp.Targets(br.Ctx()); err == nil {
		for _, t := range ts {
			known[t.TargetID] = true
		}
	}
	for i := 1; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, cfg.ExecPath, "--ozone-platform=headless", "--no-sandbox",
			"--user-data-dir="+ud, fmt.Sprintf("--profile-directory=Profile %d", i), "about:blank")
		cmd.Env = append(os.Environ(), "TMPDIR="+spec.TmpDir)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || !bytes.Contains(out, []byte("Opening in existing browser session")) {
			fail("open profile %d: %v\n%s", i, err, out)
		}
		var id target.ID
		for deadline := time.Now().Add(10 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			ts, _ := chromedp.Targets(br.Ctx())
			for _, t := range ts {
				if t.Type == "page" && !known[t.TargetID] {
					id = t.TargetID
					known[id] = true
					break
				}
			}
		}
		if id == "" {
			fail("no new tab for profile %d", i)
		}
		// The first action attaches, on the tab's context itself: chromedp
		// binds the attachment to the context of that first action, so
		// one with a timeout would detach the tab when it returns.
		tab, cancelTab := chromedp.NewContext(br.Ctx(), chromedp.WithTargetID(id))
		tenants = append(tenants, &memTenant{tab: tab, cancel: cancelTab, profile: ud})
		if err := chromedp.Do(tab); err != nil {
			fail("attach to the tab of profile %d: %v", i, err)
		}
	}
	return br, tenants
}

// browserContexts returns the number of distinct browser contexts of the
// tenants' pages, and checks on disk that each profile keeps its own
// IndexedDB: isolation holds when both are one per tenant. (Every page also
// booted to the landing page and linked its own phone, although the others
// of the same origin were linked already.)
func browserContexts(tb testing.TB, tenants []*memTenant) int {
	ids := map[cdp.BrowserContextID]bool{}
	for _, t := range tenants {
		c := chromedp.FromContext(t.tab)
		if c == nil || c.Target == nil {
			continue
		}
		ts, err := chromedp.Targets(t.tab)
		if err != nil {
			continue
		}
		for _, info := range ts {
			if info.TargetID == c.Target.TargetID {
				ids[info.BrowserContextID] = true
			}
		}
	}
	ud := tenants[0].profile
	for i := range tenants {
		name := "Default"
		if i > 0 {
			name = fmt.Sprintf("Profile %d", i)
		}
		if m, _ := filepath.Glob(filepath.Join(ud, name, "IndexedDB", "*.indexeddb.leveldb")); len(m) == 0 {
			tb.Errorf("shared: profile %q has no IndexedDB of its own", name)
		}
	}
	return len(ids)
}

// crashOneRenderer SIGKILLs one renderer of the shared browser and returns
// how many tenants' pages stopped answering: the blast radius of a page
// crash. (A crash of the browser process takes every tenant; no need to
// measure that.)
func crashOneRenderer(tb testing.TB, br *browserpool.Browser, tenants []*memTenant) int {
	pids := br.RendererPIDs()
	if len(pids) == 0 {
		tb.Errorf("shared: no renderer")
		return 0
	}
	_ = syscall.Kill(pids[0], syscall.SIGKILL)
	time.Sleep(time.Second)
	lost := 0
	for _, t := range tenants {
		if v, err := evalString(t.tab, `'ok'`, 3*time.Second); err != nil || v != "ok" {
			lost++
		}
	}
	tb.Logf("shared: %d renderers for %d tenants; SIGKILL of renderer %d lost %d page(s)", len(pids), len(tenants), pids[0], lost)
	return lost
}

// forEach runs fn(0..n-1), at most par at once, and returns the errors.
func forEach(n, par int, fn func(i int) error) []error {
	sem := make(chan struct{}, max(par, 1))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				errs[i] = fmt.Errorf("tenant %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	return errs
}

// navigateTab loads url in tab (Page.navigate returns once the new
// document has committed) and waits until the document is complete.
func navigateTab(tab context.Context, url string) error {
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url})
	if err == nil && res.ErrorText != "" {
		err = errors.New(res.ErrorText)
	}
	if err != nil {
		return fmt.Errorf("navigate %s: %w", url, err)
	}
	_, err = waitJS(tab, "the page "+url, `document.readyState === 'complete' ? 'yes' : ''`, 20*time.Second)
	return err
}

func evalString(tab context.Context, js string, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

// waitJS evaluates js every 50ms until it returns a non-empty string.
func waitJS(tab context.Context, what, js string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		v, err := evalString(tab, js, 3*time.Second)
		if err == nil && v != "" {
			return v, nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no %s after %v (last error: %v)", what, d, last)
}

// snapshot reads the machine's memory (procmem.Steady: MemAvailable between
// two sums of what the other processes hold, agreeing within 4 MiB) for at
// most 30 s, then keeps the last reading. First it waits, at most quiet,
// until no other Chromium runs on the machine.
func snapshot(dir string, quiet time.Duration) procmem.Reading {
	for deadline := time.Now().Add(quiet); time.Now().Before(deadline) && foreignChromium(dir) > 0; {
		time.Sleep(time.Second)
	}
	r, err := procmem.Steady(func() uint64 { return foreignUse(dir) }, 30)
	if err != nil {
		panic(err) // a Linux without /proc/meminfo runs no Chromium here either
	}
	return r
}

// ownUse is what a process holds that MemAvailable cannot count as
// reclaimable, with the kernel memory that follows it.
func ownUse(pid int) uint64 { return procmem.Anon(pid) + procmem.Kernel(pid) }

// foreignUse sums ownUse over every process but this one and the browsers
// under dir (the other users of the machine). The corrected figure takes
// out the change of this sum.
func foreignUse(dir string) uint64 {
	var sum uint64
	for _, pid := range procmem.Others(append(browserpool.ProcessesUnder(dir), os.Getpid())...) {
		sum += ownUse(pid)
	}
	return sum
}

// foreignChromium counts the Chromium processes of the machine that are
// not under dir.
func foreignChromium(dir string) int {
	n := 0
	for _, pid := range procmem.Others(browserpool.ProcessesUnder(dir)...) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "chromium" {
			n++
		}
	}
	return n
}

// processType names a Chromium process by its --type (and utility
// sub-type): "browser", "zygote", "gpu-process", "renderer",
// "utility:network", "utility:storage", …
func processType(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "gone"
	}
	typ, sub := "browser", ""
	// Chromium's children rewrite their command line with spaces between
	// the arguments.
	for _, a := range strings.FieldsFunc(string(data), func(r rune) bool { return r == 0 || r == ' ' }) {
		if v, ok := strings.CutPrefix(a, "--type="); ok {
			typ = v
		}
		if v, ok := strings.CutPrefix(a, "--utility-sub-type="); ok {
			// network.mojom.NetworkService → network
			sub = strings.ToLower(strings.TrimSuffix(v[strings.LastIndex(v, ".")+1:], "Service"))
		}
	}
	if sub != "" {
		return typ + ":" + sub
	}
	return typ
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		tb.Fatalf("%s=%q: want a duration", name, v)
	}
	return d
}

// TestLeanProcesses: a Lean browser on a page runs four processes — the
// browser (with the network service and the GPU compositor as threads), one
// zygote, the storage service and the renderer — so that a Chromium that
// starts ignoring one of the Lean flags (as Chrome 156 ignores
// NetworkServiceInProcess) shows here rather than only in the memory.
func TestLeanProcesses(t *testing.T) {
	ts := newServer(t)
	cfg := testConfig(t)
	cfg.Lean = true
	b := launch(t, cfg, testSpec(t.TempDir(), "lp"))
	navigate(t, b, ts.URL)
	want := []string{"browser", "renderer", "utility:storage", "zygote"}
	var types []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		types = types[:0]
		for _, pid := range browserpool.ProcessesOnProfile(b.Spec().ProfileDir) {
			types = append(types, processType(pid))
		}
		slices.Sort(types)
		if slices.Equal(types, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of a Lean browser: %v, want %v", types, want)
		}
	}
}
