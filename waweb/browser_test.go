package waweb_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/waweb"
)

// desktopUA is a current desktop Chrome user agent, without "HeadlessChrome" (fact 13).
const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// One browser serves every test of the package, each test in tabs of its
// own, each against its own fakewa server (so its own origin and storage).
var shared struct {
	once    sync.Once
	dir     string
	ctx     context.Context
	cancel  func()
	startup error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func startBrowser(path string) {
	dir, err := os.MkdirTemp("", "waweb-test-")
	if err != nil {
		shared.startup = err
		return
	}
	shared.dir = dir
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900), chromedp.UserAgent(desktopUA),
	}
	actx, c1 := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, c2 := chromedp.NewContext(actx)
	shared.ctx = bctx
	shared.cancel = func() {
		_ = chromedp.Cancel(bctx) // Browser.close, then the process ends
		c2()
		c1()
	}
	// The first action starts the browser: alone, never concurrently.
	shared.startup = chromedp.Do(bctx)
}

// newTab opens a tab in the shared browser, closed when the test ends.
func newTab(t testing.TB) context.Context {
	t.Helper()
	path := chromiumtest.Path(t)
	shared.once.Do(func() { startBrowser(path) })
	if shared.startup != nil {
		t.Fatalf("start browser: %v", shared.startup)
	}
	tab, cancel := chromedp.NewContext(shared.ctx)
	if err := chromedp.Do(tab); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	t.Cleanup(cancel)
	return tab
}

// fake is what the tests use of fakewa's server.
type fake interface {
	http.Handler
	QRCodes() []fakewa.ShownQR
	Scan(code, phone string) error
	Pair(code string) error
	PairingCodes() []fakewa.Pairing
	Messages(account string) []fakewa.Message
	Logout(phone string)
	SetHang(bool)
	SetOptions(func(*fakewa.Options))
	Close()
}

type env struct {
	fake fake
	url  string
	tab  context.Context
	page *waweb.Page
}

// fastOptions are short fakewa timings for tests.
func fastOptions() fakewa.Options {
	return fakewa.Options{
		BootDelay:       100 * time.Millisecond,
		AckDelay:        100 * time.Millisecond,
		LookupDelay:     50 * time.Millisecond,
		FirstQRLifetime: 20 * time.Second,
		QRLifetime:      10 * time.Second,
		QRRotations:     5,
		PairingLifetime: time.Minute,
		LogoutPoll:      200 * time.Millisecond,
	}
}

func newEnv(t testing.TB, opts fakewa.Options, sel waweb.Selectors) *env {
	t.Helper()
	f := fakewa.New(opts)
	srv := httptest.NewServer(f)
	t.Cleanup(func() { srv.Close(); f.Close() })
	tab := newTab(t)
	return &env{fake: f, url: srv.URL, tab: tab, page: waweb.New(tab, srv.URL, sel)}
}

// linkedOnBuild is a fakewa of the build with fast timings and an editor
// late by up to editorDelay, its account linked in a fresh tab, and a
// context of 90 s for the test's steps.
func linkedOnBuild(t testing.TB, build string, editorDelay time.Duration) (*env, context.Context) {
	t.Helper()
	opts := fastOptions()
	opts.Build = build
	opts.EditorDelay = editorDelay
	e := newEnv(t, opts, waweb.DefaultSelectors())
	e.link(t, account)
	return e, ctxFor(t, 90*time.Second)
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// openLanding opens the app and waits for the landing's first QR code.
func (e *env) openLanding(t testing.TB) waweb.QR {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	if err := e.page.Open(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.page.WaitBooted(ctx)
	if err != nil || st != waweb.StateLanding {
		t.Fatalf("WaitBooted = %s, %v; want landing", st, err)
	}
	s := e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.QR.Code != "" })
	return s.QR
}

// waitFor waits for a snapshot for which ok holds.
func (e *env) waitFor(t testing.TB, ctx context.Context, ok func(waweb.Snapshot) bool) waweb.Snapshot {
	t.Helper()
	s, err := e.page.Snapshot(ctx)
	for err == nil && !ok(s) {
		s, err = e.page.WaitChange(ctx, s)
	}
	if err != nil {
		t.Fatalf("waiting for the page (last %+v): %v", s, err)
	}
	return s
}

// link opens the app and links it to phone by scanning the QR code.
func (e *env) link(t testing.TB, phone string) {
	t.Helper()
	qr := e.openLanding(t)
	if err := e.fake.Scan(qr.Code, phone); err != nil {
		t.Fatalf("scan %q: %v", qr.Code, err)
	}
	e.waitFor(t, ctxFor(t, 30*time.Second), func(s waweb.Snapshot) bool { return s.State == waweb.StateMain })
}

// mark sets a flag in the document; a page load drops it.
func (e *env) mark(t testing.TB) {
	t.Helper()
	if _, err := chromedp.Run(e.tab, chromedp.Evaluate[bool](`window.__mark = true`)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) marked(t testing.TB) bool {
	t.Helper()
	v, err := chromedp.Run(e.tab, chromedp.Evaluate[bool](`window.__mark === true`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// received waits until fakewa's account holds a message with text to to.
func (e *env) received(t testing.TB, account, to, text string) fakewa.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range e.fake.Messages(account) {
			if m.To == to && m.Text == text {
				return m
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range e.fake.Messages(account) {
				got = append(got, m.To+": "+short(m.Text))
			}
			t.Fatalf("fakewa never received %q to %s; it has %q", short(text), to, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func short(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// sameID checks the id Send returned names fakewa's message: the full
// data-id "true_<jid>_<msgid>", whose last part is fakewa's id (or equal to it).
func sameID(t testing.TB, got string, m fakewa.Message) {
	t.Helper()
	if got != m.ID && !strings.HasSuffix(got, "_"+m.ID) {
		t.Errorf("Send returned id %q; fakewa's message has id %q", got, m.ID)
	}
	// The older build names the chat in the id; the 2026 build's id is bare (fact 20).
	if got != m.ID && !strings.HasPrefix(got, "true_"+m.To+"@c.us_") && !strings.Contains(got, "@lid_") {
		t.Errorf("Send returned id %q, want true_%s@c.us_<id> or the bare id", got, m.To)
	}
}
