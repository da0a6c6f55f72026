package console

// The console in real Chromium, over a real Supervisor (real Chromium per
// tenant, against an in-process fakewa). One Supervisor, one console and one
// console browser serve every subtest, in order: later ones use the tenants
// earlier ones linked.
//
// With WAPOOL_CONSOLE_SCREENSHOTS set to a directory, the test also writes
// the screenshots docs/console.md shows (console-sessions.png,
// console-link.png, console-pairing.png, console-tenant.png) there:
//
//	WAPOOL_CONSOLE_SCREENSHOTS=$PWD/docs go test -run TestConsoleInChromium ./console/

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/wapool/wapool/browserpool"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/sessionstore"
	"github.com/wapool/wapool/supervisor"
)

// stack is a Supervisor over a fresh store, against an in-process fakewa,
// with real Chromium for every tenant.
type stack struct {
	fake  *fakewa.Server
	store *sessionstore.Store
	sup   *supervisor.Supervisor
}

func newStack(t *testing.T) *stack {
	t.Helper()
	// The page's worst case (slow boot and acks, the late editor): the
	// console must show what the supervisor sees, however slow the page.
	fake := fakewa.New(fakewa.WorstCaseOptions())
	fs := httptest.NewServer(fake)
	store, err := sessionstore.Open(sessionstore.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(supervisor.Config{
		Store:             store,
		TargetURL:         fs.URL,
		Browser:           browserpool.Config{ExecPath: chromiumtest.Path(t), Lean: true},
		Log:               zaptest.NewLogger(t).Named("supervisor"),
		MemorySampleEvery: time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		sup.Drain()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("supervisor Run: %v", err)
		}
		fake.Close()
		fs.Close()
		chromiumtest.NoneLeft(t, store.ProfilesDir())
		store.Close()
	})
	return &stack{fake: fake, store: store, sup: sup}
}

// link links tenant to phone through the supervisor, scanning its first QR.
func (s *stack) link(t *testing.T, tenant, phone string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := s.sup.Link(ctx, tenant, "", func(ev supervisor.LinkEvent) error {
		if ev.QR != nil && ev.QR.Sequence == 1 {
			return s.fake.Scan(ev.QR.Code, phone)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("link %s: %v", tenant, err)
	}
}

// tab is one tab of the console browser; its helpers report to t.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// startBrowser launches the browser that looks at the console, closed at
// the end of the test.
func startBrowser(t *testing.T) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumtest.Path(t)), chromedp.UserDataDir(t.TempDir()), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		chromedp.Cancel(ctx)
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // the first action starts the browser: alone
		t.Fatalf("start chromium: %v", err)
	}
	return &tab{t: t, ctx: ctx}
}

// in returns the tab reporting to t (a subtest).
func (b *tab) in(t *testing.T) *tab { return &tab{t: t, ctx: b.ctx} }

func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func eval[T any](b *tab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

func mustEval[T any](b *tab, js string) T {
	b.t.Helper()
	v, err := eval[T](b, js)
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls js (a string expression) until it equals want, for at most
// timeout.
func (b *tab) waitJS(what string, timeout time.Duration, js, want string) {
	b.t.Helper()
	var last string
	var err error
	waitFor(b.t, what, timeout, func() bool {
		last, err = eval[string](b, js)
		return err == nil && last == want
	}, func() string { return fmt.Sprintf("last %q, %v", last, err) })
}

// waitFor polls cond every 50 ms until it holds or timeout ends; detail
// says what was seen last.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, detail func() string) {
	t.Helper()
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s (%s)", timeout, what, detail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *tab) location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// html returns the page's markup as it is now.
func (b *tab) html() string {
	b.t.Helper()
	return mustEval[string](b, `document.documentElement.outerHTML`)
}

// mark sets a value in the page's JavaScript heap; marked tells whether it
// is still there, i.e. the page did not reload.
func (b *tab) mark() {
	b.t.Helper()
	mustEval[string](b, `window.__noReload = 'still here'`)
}

func (b *tab) marked() bool {
	b.t.Helper()
	return mustEval[string](b, `String(window.__noReload)`) == "still here"
}

// shoot writes a screenshot of the whole page to $WAPOOL_CONSOLE_SCREENSHOTS/name.
func (b *tab) shoot(name string) {
	b.t.Helper()
	dir := os.Getenv("WAPOOL_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s", filepath.Join(dir, name))
}

const (
	stateJS      = `document.getElementById('state').textContent`
	linkStatusJS = `document.getElementById('link-status').textContent`
	fetchStatus  = `fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: %q}).then(r => r.status)`
)

var pairingShape = regexp.MustCompile(`^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$`)

func TestConsoleInChromium(t *testing.T) {
	chromiumtest.Path(t) // skip (or fail in CI) before starting anything
	st := newStack(t)
	cs := httptest.NewServer(New(st.sup, Options{Log: zaptest.NewLogger(t).Named("console")}))
	t.Cleanup(cs.Close)
	browser := startBrowser(t)
	browser.do(chromedp.EmulateViewport(1280, 860))
	const shopPhone = "15550002222"

	t.Run("SessionsListALinkedTenantAsReady", func(t *testing.T) {
		b := browser.in(t)
		b.do(chromedp.Navigate(cs.URL + "/"))
		b.waitJS("the empty sessions table", 5*time.Second, `document.querySelector('#sessions tbody').textContent.includes('No tenant yet') ? 'empty' : ''`, "empty")
		b.mark()
		st.link(t, "shop-1", shopPhone)
		row := `(() => { const r = document.querySelector('#sessions tr[data-tenant="shop-1"]'); return r ? r.cells[1].textContent + ' ' + r.cells[2].textContent : '' })()`
		b.waitJS("shop-1 READY in the sessions table", 10*time.Second, row, "READY …2222")
		if !b.marked() {
			t.Fatal("the sessions page reloaded")
		}
		if strings.Contains(b.html(), shopPhone) {
			t.Fatal("the sessions page shows the full phone number")
		}
	})

	t.Run("LinkANewTenantByQR", func(t *testing.T) {
		b := browser.in(t)
		b.do(chromedp.Navigate(cs.URL+"/"),
			chromedp.SendKeys(chromedp.ID("open-id"), "qr-new"),
			chromedp.Click(chromedp.ID("open-btn")),
			chromedp.WaitVisible(chromedp.ID("new-note")))
		if loc := b.location(); loc != cs.URL+"/t/qr-new" {
			t.Fatalf("at %s, want the tenant's page", loc)
		}
		b.mark()
		// Short-lived codes, so that the page rotates its code during the
		// test: the new tenant's page boots after this and takes them.
		st.fake.SetOptions(func(o *fakewa.Options) { o.FirstQRLifetime, o.QRLifetime = 4*time.Second, 4*time.Second })
		defer st.fake.SetOptions(func(o *fakewa.Options) { *o = fakewa.WorstCaseOptions() })
		b.do(chromedp.Click(chromedp.ID("link-qr-btn")))
		qrJS := `(() => { const q = document.getElementById('qr');
			return !q.hidden && q.complete && q.naturalWidth > 100 && q.src.startsWith('data:image/png;base64,') ? q.dataset.seq + ' ' + q.dataset.code : '' })()`
		var shown, first, code string
		waitFor(t, "a QR code on the page", 30*time.Second, func() bool {
			shown, _ = eval[string](b, qrJS)
			first, _, _ = strings.Cut(shown, " ")
			return shown != ""
		}, func() string { s, _ := eval[string](b, linkStatusJS); return s })
		b.waitJS("LINKING while the code shows", 5*time.Second, stateJS, "LINKING")
		b.shoot("console-link.png")
		waitFor(t, "the page's next code, without a reload", 15*time.Second, func() bool {
			now, _ := eval[string](b, qrJS)
			seq, c, _ := strings.Cut(now, " ")
			if seq != "" && seq != first && c != "" && now != shown {
				code = c
				return true
			}
			return false
		}, func() string { return shown })
		onPage := false
		for _, q := range st.fake.QRCodes() {
			onPage = onPage || q.Code == code
		}
		if !onPage {
			t.Fatalf("the console's QR %q is not the one the page shows", code)
		}
		if err := st.fake.Scan(code, "15550004444"); err != nil {
			t.Fatal(err)
		}
		b.waitJS("READY without a reload", 15*time.Second, stateJS, "READY")
		b.waitJS("the link's end", 5*time.Second, linkStatusJS, "Linked to …4444.")
		b.waitJS("the phone, masked", 5*time.Second, `document.querySelector('[data-field="phone"]').textContent`, "…4444")
		if !b.marked() {
			t.Fatal("the page reloaded")
		}
		if s, err := st.sup.Status(context.Background(), "qr-new"); err != nil || s.State != supervisor.StateReady {
			t.Fatalf("the supervisor says %v, %v", s.State, err)
		}
	})

	t.Run("LinkByPairingCode", func(t *testing.T) {
		b := browser.in(t)
		b.do(chromedp.Navigate(cs.URL+"/t/pair-new"), chromedp.WaitVisible(chromedp.ID("new-note")))
		b.mark()
		b.do(chromedp.SendKeys(chromedp.ID("phone"), "+1 555 000 5555"), chromedp.Click(chromedp.ID("link-pairing-btn")))
		var shown string
		waitFor(t, "a pairing code on the page", 30*time.Second, func() bool {
			shown, _ = eval[string](b, `(() => { const p = document.getElementById('pairing-code'); return p.hidden ? '' : p.textContent })()`)
			return shown != ""
		}, func() string { s, _ := eval[string](b, linkStatusJS); return s })
		if !pairingShape.MatchString(shown) {
			t.Fatalf("pairing code shown as %q, want ABCD-EFGH", shown)
		}
		if px := mustEval[float64](b, `parseFloat(getComputedStyle(document.getElementById('pairing-code')).fontSize)`); px < 32 {
			t.Errorf("the pairing code is drawn at %vpx: not large", px)
		}
		var match *fakewa.Pairing
		for _, p := range st.fake.PairingCodes() {
			if p.Code == strings.ReplaceAll(shown, "-", "") {
				match = &p
			}
		}
		if match == nil || !strings.HasSuffix(match.Phone, "5550005555") {
			t.Fatalf("the console's code %q is not the page's (%+v)", shown, st.fake.PairingCodes())
		}
		b.shoot("console-pairing.png")
		if err := st.fake.Pair(shown); err != nil {
			t.Fatal(err)
		}
		b.waitJS("READY without a reload", 15*time.Second, stateJS, "READY")
		b.waitJS("the link's end", 5*time.Second, linkStatusJS, "Linked to …5555.")
		if !b.marked() {
			t.Fatal("the page reloaded")
		}
	})

	t.Run("TenantPageScreenshotAndMessages", func(t *testing.T) {
		b := browser.in(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		const text = "Order 4711 has shipped"
		m, err := st.sup.Send(ctx, supervisor.SendRequest{TenantID: "shop-1", To: "+1 555 000 6666", Text: text, IdempotencyKey: "k1"})
		if err != nil || m.State != supervisor.MessageSent {
			t.Fatalf("send: %v %v", m.State, err)
		}
		b.do(chromedp.Navigate(cs.URL + "/t/shop-1"))
		row := `(() => { const r = document.querySelector('#messages tbody tr'); return r && r.cells.length > 3 ? r.cells[1].textContent + ' ' + r.cells[2].textContent + ' ' + r.cells[3].textContent : '' })()`
		b.waitJS("the sent message, masked (a text: no file)", 5*time.Second, row, "…6666  SENT")
		b.do(chromedp.Click(chromedp.ID("shot-btn")))
		b.waitJS("the tenant's page as an image", 20*time.Second,
			`(() => { const i = document.getElementById('shot'); return !i.hidden && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:') ? 'shown' : '' })()`, "shown")
		b.waitJS("the browser's memory", 10*time.Second,
			`/^[0-9.]+ MB$/.test(document.querySelector('[data-field="memory"]').textContent) ? 'sampled' : ''`, "sampled")
		page := b.html()
		for _, leak := range []string{text, "15550006666", shopPhone} {
			if strings.Contains(page, leak) {
				t.Errorf("the tenant page shows %q", leak)
			}
		}
		b.shoot("console-tenant.png")
	})

	t.Run("LogoutBehindItsConfirmation", func(t *testing.T) {
		b := browser.in(t)
		b.do(chromedp.Navigate(cs.URL+"/t/pair-new"), chromedp.Click(chromedp.ID("logout-link")),
			chromedp.WaitVisible(chromedp.ID("logout-confirm")))
		if loc := b.location(); loc != cs.URL+"/t/pair-new/logout" {
			t.Fatalf("at %s, want the confirmation", loc)
		}
		if _, err := st.sup.Status(context.Background(), "pair-new"); err != nil {
			t.Fatalf("asking for the confirmation logged out already: %v", err)
		}
		b.do(chromedp.Click(chromedp.ID("logout-cancel")), chromedp.WaitVisible(chromedp.ID("logout-link")))
		if _, err := st.sup.Status(context.Background(), "pair-new"); err != nil {
			t.Fatalf("cancel logged out: %v", err)
		}
		b.do(chromedp.Click(chromedp.ID("logout-link")), chromedp.WaitVisible(chromedp.ID("logout-confirm")),
			chromedp.Click(chromedp.ID("logout-confirm")), chromedp.WaitVisible(chromedp.ID("notice")))
		if loc := b.location(); loc != cs.URL+"/?loggedout=pair-new" {
			t.Fatalf("after the logout at %s", loc)
		}
		if _, err := st.sup.Status(context.Background(), "pair-new"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Fatalf("after the logout the supervisor says %v", err)
		}
		b.waitJS("pair-new gone from the table, the others listed", 5*time.Second,
			`[...document.querySelectorAll('#sessions tbody tr')].map(r => r.dataset.tenant + ':' + r.cells[1].textContent).sort().join(' ')`,
			"qr-new:READY shop-1:READY")
		b.shoot("console-sessions.png")
	})

	t.Run("PostWithoutCSRFTokenRefused", func(t *testing.T) {
		b := browser.in(t)
		b.do(chromedp.Navigate(cs.URL+"/t/qr-new/logout"), chromedp.WaitVisible(chromedp.ID("logout-confirm")))
		for _, tc := range []struct{ path, body string }{
			{"/t/qr-new/logout", "confirm=qr-new"},
			{"/t/qr-new/logout", "confirm=qr-new&csrf=forged"},
			{"/t/qr-new/link", ""},
			{"/signout", ""},
		} {
			if code := mustEval[int](b, fmt.Sprintf(fetchStatus, tc.path, tc.body)); code != 403 {
				t.Errorf("POST %s %q from the page: %d, want 403", tc.path, tc.body, code)
			}
		}
		// The confirmation form itself, with its token taken out.
		mustEval[string](b, `document.querySelector('#logout-form input[name=csrf]').remove(), 'ok'`)
		b.do(chromedp.Click(chromedp.ID("logout-confirm")), chromedp.WaitVisible(chromedp.ID("error-message")))
		if msg := mustEval[string](b, `document.getElementById('error-message').textContent`); !strings.Contains(msg, "CSRF") {
			t.Errorf("refused with %q", msg)
		}
		if s, err := st.sup.Status(context.Background(), "qr-new"); err != nil || s.State != supervisor.StateReady {
			t.Fatalf("a refused POST changed the tenant: %v %v", s.State, err)
		}
	})

	t.Run("TokensRequired", func(t *testing.T) {
		tcs := httptest.NewServer(New(st.sup, Options{Tokens: TokenSet("tok-4b1d9e"), Log: zaptest.NewLogger(t).Named("console-tokens")}))
		defer tcs.Close()
		// Its own browser context: no cookie of the other console.
		ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx alone
			t.Fatal(err)
		}
		b := &tab{t: t, ctx: ctx}
		b.do(chromedp.Navigate(tcs.URL+"/t/shop-1"), chromedp.WaitVisible(chromedp.ID("token")))
		if loc := b.location(); !strings.HasPrefix(loc, tcs.URL+"/login?next=") {
			t.Fatalf("without a token at %s, want the login form", loc)
		}
		if page := b.html(); strings.Contains(page, "READY") || strings.Contains(page, "…2222") {
			t.Fatal("the login page shows tenant data")
		}
		for path, want := range map[string]int{"/api/sessions": 401, "/api/tenants/shop-1": 401, "/t/shop-1/screenshot.png": 302} {
			js := fmt.Sprintf(`fetch(%q, {redirect: 'manual', headers: {'Accept': 'image/png'}}).then(r => r.type === 'opaqueredirect' ? 302 : r.status)`, path)
			if code := mustEval[int](b, js); code != want {
				t.Errorf("GET %s without a token: %d, want %d", path, code, want)
			}
		}
		if code := mustEval[int](b, fmt.Sprintf(fetchStatus, "/t/shop-1/logout", "confirm=shop-1")); code != 401 {
			t.Errorf("POST logout without a token: %d, want 401", code)
		}
		b.do(chromedp.SendKeys(chromedp.ID("token"), "wrong-token"), chromedp.Click(chromedp.ID("login-btn")),
			chromedp.WaitVisible(chromedp.ID("login-error")))
		b.do(chromedp.SendKeys(chromedp.ID("token"), "tok-4b1d9e"), chromedp.Click(chromedp.ID("login-btn")),
			chromedp.WaitVisible(chromedp.ID("link-card")))
		if loc := b.location(); loc != tcs.URL+"/t/shop-1" {
			t.Fatalf("signed in at %s, want back at /t/shop-1", loc)
		}
		b.waitJS("shop-1 READY once signed in", 5*time.Second, stateJS, "READY")
		if c := mustEval[string](b, `document.cookie`); strings.Contains(c, sessionCookie) {
			t.Errorf("the session cookie is readable from script: %q", c)
		}
		if code := mustEval[int](b, fmt.Sprintf(fetchStatus, "/t/shop-1/logout", "confirm=shop-1")); code != 403 {
			t.Errorf("signed in, POST logout without the CSRF token: %d, want 403", code)
		}
		if _, err := st.sup.Status(context.Background(), "shop-1"); err != nil {
			t.Fatalf("shop-1: %v", err)
		}
	})
}
