package browserpool_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/procfs"

	"github.com/wapool/wapool/browserpool"
)

// run evaluates js on the browser's tab with a timeout.
func run[T any](t *testing.T, b *browserpool.Browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx(), 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func navigate(t *testing.T, b *browserpool.Browser, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx(), 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
}

// pageTargets counts the browser's page targets (tabs).
func pageTargets(t *testing.T, b *browserpool.Browser) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx(), 10*time.Second)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatalf("targets: %v", err)
	}
	n := 0
	for _, info := range infos {
		if info.Type == "page" {
			n++
		}
	}
	return n
}

// TestLaunchStopPersist: a browser runs one tab with the configured identity,
// Stop leaves no process and no lock on the profile, and what the page stored
// survives into the next browser on the same profile.
func TestLaunchStopPersist(t *testing.T) {
	ts := newServer(t)
	dir := t.TempDir()
	cfg, spec := testConfig(t), testSpec(dir, "t1")

	b := launch(t, cfg, spec)
	if b.PID() <= 0 || b.StartedAt().IsZero() || time.Since(b.StartedAt()) > time.Minute {
		t.Fatalf("PID %d StartedAt %v", b.PID(), b.StartedAt())
	}
	if got := run[string](t, b, "location.href"); got != "about:blank" {
		t.Errorf("first tab at %q, want about:blank", got)
	}
	navigate(t, b, ts.URL)
	if got := run[string](t, b, "document.getElementById('x').textContent"); got != "hello" {
		t.Errorf("page text %q", got)
	}
	ua := run[string](t, b, "navigator.userAgent")
	if ua != browserpool.DefaultUserAgent || strings.Contains(ua, "Headless") {
		t.Errorf("user agent %q", ua)
	}
	if w := run[int](t, b, "window.outerWidth"); w != browserpool.DefaultWindowW {
		t.Errorf("window width %d, want %d", w, browserpool.DefaultWindowW)
	}
	if lang := run[string](t, b, "navigator.language"); lang != "en-US" {
		t.Errorf("navigator.language %q", lang)
	}
	if al, _ := lastAcceptLanguage.Load().(string); !strings.HasPrefix(al, "en-US") {
		t.Errorf("Accept-Language %q, want en-US first", al)
	}
	if webdriver := run[bool](t, b, "navigator.webdriver === true"); webdriver {
		t.Errorf("navigator.webdriver is true (enable-automation must stay off)")
	}
	if n := pageTargets(t, b); n != 1 {
		t.Errorf("%d page targets, want exactly 1", n)
	}

	// Process hygiene of a running browser: its own group, TMPDIR set, the
	// whole tree found by profile.
	if st := procStat(t, b.PID()); st.pgid != b.PID() {
		t.Errorf("browser pgid %d, want its own group %d", st.pgid, b.PID())
	}
	p, err := procfs.NewProc(b.PID())
	if err != nil {
		t.Fatal(err)
	}
	env, err := p.Environ()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env, "TMPDIR="+b.Spec().TmpDir) {
		t.Errorf("browser environment has no TMPDIR=%s", b.Spec().TmpDir)
	}
	onProfile := browserpool.ProcessesOnProfile(spec.ProfileDir)
	if len(onProfile) < 2 || !contains(onProfile, b.PID()) {
		t.Errorf("ProcessesOnProfile = %v, want the browser %d and its children", onProfile, b.PID())
	}
	renderers := b.RendererPIDs()
	if len(renderers) == 0 {
		t.Errorf("no renderer found")
	}
	for _, pid := range renderers {
		if !contains(onProfile, pid) {
			t.Errorf("renderer %d not on the profile %v", pid, onProfile)
		}
	}
	pss, err := b.PSS()
	if err != nil {
		t.Fatalf("PSS: %v", err)
	}
	if pss < 20<<20 || pss > 4<<30 {
		t.Errorf("PSS %d bytes is not plausible for a browser", pss)
	}
	t.Logf("PSS of one browser on a tiny page: %d MB", pss>>20)

	// A value stored just before Stop survives it.
	const value = "kept-across-restart"
	run[bool](t, b, "localStorage.setItem('k', '"+value+"'), true")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("graceful stop took %v", time.Since(start))
	select {
	case <-b.Done():
	default:
		t.Fatal("Done not closed after Stop returned")
	}
	if err := b.ExitErr(); err != nil {
		t.Errorf("ExitErr after Stop = %v, want nil", err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if left := browserpool.ProcessesOnProfile(spec.ProfileDir); len(left) > 0 {
		t.Errorf("processes left on the profile after Stop: %v", left)
	}
	if files := singletonFiles(t, spec.ProfileDir); len(files) > 0 {
		t.Errorf("lock files left after Stop: %v", files)
	}
	if b.Ctx().Err() == nil {
		t.Error("tab context still alive after Stop")
	}
	if _, err := b.PSS(); !errors.Is(err, browserpool.ErrExited) {
		t.Errorf("PSS after Stop: %v, want ErrExited", err)
	}

	b2 := launch(t, cfg, spec)
	navigate(t, b2, ts.URL)
	if got := run[string](t, b2, "window.stored()"); got != value {
		t.Errorf("localStorage after restart = %q, want %q", got, value)
	}
}

// TestSIGKILLMain: the death of the main process closes Done quickly, says
// how it died, and leaves neither a zombie nor a child on the profile.
func TestSIGKILLMain(t *testing.T) {
	dir := t.TempDir()
	cfg, spec := testConfig(t), testSpec(dir, "t2")
	b := launch(t, cfg, spec)
	pid := b.PID()
	children := b.RendererPIDs()

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed 5s after SIGKILL of the main process")
	}
	// The bound above only guards against a hang: Done closes when the
	// process is reaped (tens of ms measured), there is no poll to wait for.
	t.Logf("Done closed %v after SIGKILL", time.Since(killedAt))

	err := b.ExitErr()
	if !errors.Is(err, browserpool.ErrExited) {
		t.Fatalf("ExitErr = %v, want ErrExited", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("ExitErr %v holds no *exec.ExitError", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("ExitErr %v: want death by SIGKILL", err)
	}
	if !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("ExitErr text %q", err)
	}

	// Reaped: /proc/<pid> is gone, or (pid reused) not a zombie.
	if st, ok := readProcStat(pid); ok && (st.state == 'Z' || st.pgid == pid) {
		t.Errorf("pid %d still present after Done: state %c pgid %d", pid, st.state, st.pgid)
	}
	for _, c := range children {
		// A dead child waits for its new parent (init) to reap it: that is
		// not ours to do, but it must not run.
		if st, ok := readProcStat(c); ok && st.pgid == pid && st.state != 'Z' {
			t.Errorf("child %d of the dead browser still runs (state %c)", c, st.state)
		}
	}
	if left := browserpool.ProcessesOnProfile(spec.ProfileDir); len(left) > 0 {
		t.Errorf("processes left on the profile: %v", left)
	}
	if b.Ctx().Err() == nil {
		t.Error("tab context alive after the browser died")
	}

	// Stop on a dead browser returns at once and keeps the cause.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Stop(ctx); err != nil {
		t.Errorf("Stop after death: %v", err)
	}
	if !errors.Is(b.ExitErr(), browserpool.ErrExited) {
		t.Errorf("ExitErr changed by Stop: %v", b.ExitErr())
	}

	// The profile is usable again: the stale lock of the dead browser goes.
	if err := browserpool.CleanStaleSingleton(spec.ProfileDir); err != nil {
		t.Fatalf("CleanStaleSingleton: %v", err)
	}
	if files := singletonFiles(t, spec.ProfileDir); len(files) > 0 {
		t.Errorf("stale lock files kept: %v", files)
	}
}

// TestLaunchFailures: a launch that cannot succeed returns an error and
// leaves no process behind.
func TestLaunchFailures(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)

	bad := cfg
	bad.ExecPath = dir + "/no-such-chromium"
	if _, err := browserpool.Launch(context.Background(), bad, testSpec(dir, "a")); err == nil {
		t.Error("Launch with a missing binary succeeded")
	}

	flags := cfg
	flags.ExtraFlags = map[string]any{"user-data-dir": "/elsewhere"}
	if _, err := browserpool.Launch(context.Background(), flags, testSpec(dir, "b")); err == nil {
		t.Error("Launch with an override of user-data-dir succeeded")
	}

	if _, err := browserpool.Launch(context.Background(), cfg, browserpool.Spec{}); err == nil {
		t.Error("Launch without a profile dir succeeded")
	}

	long := testSpec(dir, "d")
	long.TmpDir = "/tmp/" + strings.Repeat("x", browserpool.MaxTmpDirLen)
	if _, err := browserpool.Launch(context.Background(), cfg, long); err == nil || !strings.Contains(err.Error(), "socket path") {
		t.Errorf("Launch with a too long TmpDir = %v", err)
	}

	// A launch deadline that ends while Chrome starts kills it.
	spec := testSpec(dir, "c")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	b, err := browserpool.Launch(ctx, cfg, spec)
	if err == nil {
		b.Stop(context.Background())
		t.Skip("Chromium started within 150ms; cannot test an interrupted launch here")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Launch error %v, want DeadlineExceeded", err)
	}
	if left := browserpool.ProcessesOnProfile(spec.ProfileDir); len(left) > 0 {
		t.Errorf("processes left after an interrupted launch: %v", left)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type stat struct {
	state byte
	pgid  int
}

// readProcStat reads state and pgid of pid; ok is false when it is gone.
func readProcStat(pid int) (stat, bool) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return stat{}, false
	}
	st, err := p.Stat()
	if err != nil || st.State == "" {
		return stat{}, false
	}
	return stat{state: st.State[0], pgid: st.PGRP}, true
}

func procStat(t *testing.T, pid int) stat {
	t.Helper()
	st, ok := readProcStat(pid)
	if !ok {
		t.Fatalf("no process %d", pid)
	}
	return st
}

// TestStopHungBrowser: a browser that answers neither DevTools nor SIGINT (its
// main process is stopped with SIGSTOP) goes down the whole ladder: Stop
// still ends it with SIGKILL to the group after two rungs of StopTimeout,
// and says so (ErrStopForced: the profile was not closed gracefully). A
// Stop whose ctx ends first returns that error and the ladder goes on.
func TestStopHungBrowser(t *testing.T) {
	dir := t.TempDir()
	cfg, spec := testConfig(t), testSpec(dir, "t4")
	cfg.StopTimeout = 400 * time.Millisecond
	b := launch(t, cfg, spec)
	if err := syscall.Kill(b.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a short ctx = %v, want DeadlineExceeded", err)
	}
	select {
	case <-b.Done():
		t.Fatal("a SIGSTOPped browser ended before the ladder reached SIGKILL")
	default:
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := b.Stop(ctx); !errors.Is(err, browserpool.ErrStopForced) {
		t.Fatalf("Stop of a browser that needed SIGKILL = %v, want ErrStopForced", err)
	}
	took := time.Since(start)
	t.Logf("hung browser stopped in %v (StopTimeout %v)", took, cfg.StopTimeout)
	if took < 2*cfg.StopTimeout {
		t.Errorf("stopped after %v, before rungs 1 and 2 had their %v each", took, cfg.StopTimeout)
	}
	if took > 3*cfg.StopTimeout+2*time.Second {
		t.Errorf("stop took %v, want about 2×%v", took, cfg.StopTimeout)
	}
	if err := b.ExitErr(); err != nil {
		t.Errorf("ExitErr after Stop = %v, want nil", err)
	}
	if left := browserpool.ProcessesOnProfile(spec.ProfileDir); len(left) > 0 {
		t.Errorf("processes left on the profile: %v", left)
	}
	if st, ok := readProcStat(b.PID()); ok && (st.state == 'Z' || st.pgid == b.PID()) {
		t.Errorf("main process still present: state %c", st.state)
	}
}

// TestLeanBrowserRenders: the Lean flags (no software rasterizer, one
// renderer) still draw a 2D canvas and take a screenshot, which the driver
// needs for QR codes and ops.
func TestLeanBrowserRenders(t *testing.T) {
	ts := newServer(t)
	cfg := testConfig(t)
	cfg.Lean = true
	b := launch(t, cfg, testSpec(t.TempDir(), "t5"))
	navigate(t, b, ts.URL)
	pixel := run[[]int](t, b, `(() => { const c = document.createElement('canvas'); c.width = c.height = 10;
		document.body.appendChild(c); const g = c.getContext('2d'); g.fillStyle = '#ff0000'; g.fillRect(0, 0, 10, 10);
		return Array.from(g.getImageData(5, 5, 1, 1).data); })()`)
	if len(pixel) != 4 || pixel[0] != 255 || pixel[1] != 0 || pixel[3] != 255 {
		t.Errorf("canvas pixel %v, want red", pixel)
	}
	ctx, cancel := context.WithTimeout(b.Ctx(), 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 100 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot of %d bytes is not a PNG", len(png))
	}
	if n := len(b.RendererPIDs()); n != 1 {
		t.Errorf("%d renderers in a lean browser, want 1", n)
	}
}

// TestRendererKill: SIGKILL of the tab's renderer (what RendererPIDs is for)
// crashes the page but not the browser; navigating again revives the tab.
func TestRendererKill(t *testing.T) {
	ts := newServer(t)
	b := launch(t, testConfig(t), testSpec(t.TempDir(), "t6"))
	navigate(t, b, ts.URL)
	renderers := b.RendererPIDs()
	if len(renderers) == 0 {
		t.Fatal("no renderer")
	}
	for _, pid := range renderers {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the renderers to die", func() bool {
		for _, pid := range b.RendererPIDs() {
			if contains(renderers, pid) {
				return false
			}
		}
		return true
	})
	// The first navigation can race the browser's own handling of the
	// crash (net::ERR_ABORTED); the supervisor retries the same way.
	var lastErr error
	eventually(t, 10*time.Second, "a navigation in the crashed tab", func() bool {
		ctx, cancel := context.WithTimeout(b.Ctx(), 5*time.Second)
		defer cancel()
		lastErr = chromedp.Do(ctx, chromedp.Navigate(ts.URL))
		if lastErr != nil {
			t.Logf("navigate after the crash: %v", lastErr)
		}
		return lastErr == nil
	})
	if got := run[string](t, b, "document.getElementById('x').textContent"); got != "hello" {
		t.Errorf("page after the renderer crash: %q", got)
	}
	select {
	case <-b.Done():
		t.Fatalf("browser died with its renderer: %v", b.ExitErr())
	default:
	}
}

// TestNoLeakAcrossRestarts: launching and ending browsers (killed or
// stopped) leaves no file descriptor of the daemon behind. Goroutines are
// checked by goleak in TestMain.
func TestNoLeakAcrossRestarts(t *testing.T) {
	cfg, spec := testConfig(t), testSpec(t.TempDir(), "t7")
	countFDs := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	cycle := func(kill bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := browserpool.CleanStaleSingleton(spec.ProfileDir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("CleanStaleSingleton: %v", err)
		}
		b, err := browserpool.Launch(ctx, cfg, spec)
		if err != nil {
			t.Fatalf("Launch: %v", err)
		}
		if kill {
			_ = syscall.Kill(b.PID(), syscall.SIGKILL)
			<-b.Done()
		}
		if err := b.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	cycle(false) // warm-up: lazily opened descriptors of the runtime
	before := countFDs()
	for i := range 4 {
		cycle(i%2 == 0)
	}
	if after := countFDs(); after > before {
		t.Errorf("open file descriptors grew from %d to %d over 4 browser lifetimes", before, after)
	}
	if left := browserpool.ProcessesOnProfile(spec.ProfileDir); len(left) > 0 {
		t.Errorf("processes left on the profile: %v", left)
	}
}
