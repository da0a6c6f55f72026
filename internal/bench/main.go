package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wapool/wapool/fakewa"
)

// Accounts (the phones that scan), the send tenant and the phase names.
const (
	accountOld        = "15551000001"
	accountWapool     = "15551000002"
	accountFloor      = "15551000003"
	accountWapoolLate = "15551000004"
	accountFloorLate  = "15551000005"
	accountBare       = "15551000099"
	tenantSend        = "bench"

	phStart  = "browser start"
	phBoot   = "app boot"
	phOpen   = "chat opening"
	phInput  = "input"
	phAck    = "click → msg-check"
	phClose  = "close"
	phPage   = "page (waweb.Send in wapoold)"
	phDaemon = "daemon + gRPC"
)

var allSections = []string{"send", "late", "restart", "memory", "hibernate", "cycles"}

// lateEditor is fakewa's EditorDelay in the late section: each chat's editor
// goes live after a random delay in [lateEditor/4, lateEditor] (fact 17).
const lateEditor = 1200 * time.Millisecond

type options struct {
	n, kills, tenants, colds int
	wakes, cycles            int
	sections                 map[string]bool
	bin, chromium            string
	settle                   time.Duration
}

func main() {
	var o options
	var sections string
	flag.IntVar(&o.n, "n", 20, "measured messages per route (send section)")
	flag.IntVar(&o.kills, "kills", 10, "browser SIGKILLs, one per tenant (restart section)")
	flag.IntVar(&o.tenants, "tenants", 10, "warm tenants measured (memory section)")
	flag.IntVar(&o.colds, "colds", 3, "cold starts of wapoold (restart section)")
	flag.IntVar(&o.wakes, "wakes", 10, "sends to a hibernated tenant, each beside a warm one (hibernate section)")
	flag.IntVar(&o.cycles, "cycles", 100, "browser SIGKILLs on one daemon, two tenants in turn (cycles section)")
	flag.StringVar(&sections, "sections", strings.Join(allSections, ","), "sections to run: send, late, restart, memory, hibernate, cycles")
	flag.StringVar(&o.bin, "bin", "bin", "directory holding wapoold (make build)")
	flag.StringVar(&o.chromium, "chromium", "", "Chromium binary (default: chromium on PATH)")
	flag.DurationVar(&o.settle, "settle", 15*time.Second, "rest before memory is read (memory section)")
	flag.Parse()
	o.sections = map[string]bool{}
	for _, s := range strings.Split(sections, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allSections, s) {
			fmt.Fprintf(os.Stderr, "bench: unknown section %q (want %s)\n", s, strings.Join(allSections, ", "))
			os.Exit(2)
		}
		o.sections[s] = true
	}
	if o.n < 1 || o.kills < 1 || o.tenants < 1 || o.colds < 1 || o.wakes < 1 || o.cycles < 1 || len(o.sections) == 0 {
		fmt.Fprintln(os.Stderr, "bench: -n, -kills, -tenants, -colds, -wakes and -cycles must be at least 1, and one section must run")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// env is what every section shares.
type env struct {
	root     string // the run's temporary directory: every profile is below it
	bin      string
	chromium string
	site     *site
	n        int
	nonce    string   // makes this run's texts unique
	profiles []string // every Chrome profile used, for the final check
}

func (e *env) progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// text is the message i of a route: about 70 characters, unique in the run.
func (e *env) text(tag string, i int) string {
	return fmt.Sprintf("Order %s-%s-%d has shipped and will arrive on Friday. Thank you!", e.nonce, tag, i)
}

// recipient is the number i of a block of recipients: 1555 2bb nnnn, never
// ending in 0000 (fakewa's rule for numbers that are not on WhatsApp).
func recipient(block, i int) string { return fmt.Sprintf("15552%02d%04d", block, i+1) }

// results holds what the sections measured; nil when not run.
type results struct {
	a, b, c, fb, fc  *route
	bl, cl, fbl, fcl *route // the late section: (b′), (c′) and their floors
	mem              *memResult
	warm             *warmResult
	kill             *killResult
	cold             *coldResult
	hib              *hibResult
	cyc              *cyclesResult
	fleetSize        int
	elapsed          time.Duration
	profilesChecked  int
	leftover         []string
}

func run(ctx context.Context, o options) error {
	chromium := o.chromium
	if chromium == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			return fmt.Errorf("no chromium on PATH (make chromium installs it): %w", err)
		}
		chromium = p
	}
	if _, err := os.Stat(filepath.Join(o.bin, "wapoold")); err != nil {
		return fmt.Errorf("%w: run make build first", err)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	// A short directory: Chrome's socket path under TMPDIR must stay short.
	root, err := os.MkdirTemp("", "wb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	s := startSite()
	defer s.close()
	nonce := make([]byte, 3)
	_, _ = rand.Read(nonce)
	e := &env{root: root, bin: bin, chromium: chromium, site: s, n: o.n, nonce: hex.EncodeToString(nonce)}
	res := &results{}
	start := time.Now()
	errs := sections(ctx, e, o, res)
	res.elapsed = time.Since(start)
	res.profilesChecked, res.leftover = leftovers(e)
	report(os.Stdout, e, o, res)
	if len(res.leftover) > 0 {
		errs = append(errs, fmt.Errorf("%d Chrome processes were left running (stopped now)", len(res.leftover)))
	}
	return errors.Join(errs...)
}

// sections runs the chosen sections in order; a failed section is reported
// and the others still run.
func sections(ctx context.Context, e *env, o options, res *results) []error {
	var errs []error
	fail := func(err error) {
		e.progress("error: %v", err)
		errs = append(errs, err)
	}
	if o.sections["send"] {
		var err error
		if res.b, res.c, err = runWapool(ctx, e, false); err != nil {
			fail(err)
		}
		if res.fb, res.fc, err = runFloor(ctx, e, false); err != nil {
			fail(err)
		}
		if res.a, err = runOld(ctx, e); err != nil {
			fail(err)
		}
	}
	if o.sections["late"] {
		e.site.SetOptions(func(fo *fakewa.Options) { fo.EditorDelay = lateEditor })
		var err error
		if res.bl, res.cl, err = runWapool(ctx, e, true); err != nil {
			fail(err)
		}
		if res.fbl, res.fcl, err = runFloor(ctx, e, true); err != nil {
			fail(err)
		}
		e.site.SetOptions(func(fo *fakewa.Options) { fo.EditorDelay = 0 })
	}
	if o.sections["hibernate"] {
		var err error
		if res.hib, err = runHibernate(ctx, e, o.wakes); err != nil {
			fail(err)
		}
	}
	if o.sections["cycles"] {
		var err error
		if res.cyc, err = runCycles(ctx, e, o.cycles); err != nil {
			fail(err)
		}
	}
	if !o.sections["memory"] && !o.sections["restart"] {
		return errs
	}
	size := 0
	if o.sections["memory"] {
		size = o.tenants
	}
	if o.sections["restart"] {
		size = max(size, o.kills) // one kill per tenant
	}
	res.fleetSize = size
	f, err := newFleet(ctx, e, size)
	if err != nil {
		fail(err)
		return errs
	}
	defer func() { _ = f.stop() }()
	if o.sections["memory"] {
		if res.mem, err = measureMemory(ctx, e, f, o.settle); err != nil {
			fail(err)
		}
		e.progress("memory: restarting wapoold with %d linked tenants", size)
		if res.warm, err = restartFleet(ctx, e, f); err != nil {
			fail(err)
			return errs
		}
	}
	if o.sections["restart"] {
		e.progress("restart: SIGKILLs of tenants' browsers (%d)", o.kills)
		if res.kill, err = killBrowsers(ctx, e, f, o.kills); err != nil {
			fail(err)
		}
		e.progress("restart: cold starts of wapoold (%d)", o.colds)
		if res.cold, err = coldStarts(ctx, e, f, o.colds); err != nil {
			fail(err)
		}
	}
	return errs
}
