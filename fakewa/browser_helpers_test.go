package fakewa_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/internal/chromiumtest"
	"github.com/wapool/wapool/internal/wait"
)

const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// fastOptions are short timings for browser tests.
func fastOptions() fakewa.Options {
	return fakewa.Options{
		BootDelay:       400 * time.Millisecond,
		AckDelay:        150 * time.Millisecond,
		FirstQRLifetime: time.Minute,
		QRLifetime:      time.Minute,
		LookupDelay:     150 * time.Millisecond,
		LogoutPoll:      100 * time.Millisecond,
	}
}

// newFake serves a fake on a loopback port for the test.
func newFake(t *testing.T, o fakewa.Options) (*fakewa.Server, string) {
	t.Helper()
	fake := fakewa.New(o)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	t.Cleanup(fake.Close) // runs first: wakes waiting requests
	return fake, ts.URL
}

// browser is one Chromium with one tab, on its own profile. Its helpers
// report failures to t: a subtest that uses it sets t first.
type browser struct {
	t   *testing.T
	ctx context.Context
	end func()
}

// startBrowser launches Chromium on profile, with the allocator options
// extra after the usual ones. The browser closes gracefully (Browser.close)
// at cleanup, or earlier through close.
func startBrowser(t *testing.T, profile string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumtest.Path(t)), chromedp.UserDataDir(profile), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1280, 900), chromedp.UserAgent(desktopUA))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	closed := false
	b.end = func() {
		if closed {
			return
		}
		closed = true
		chromedp.Cancel(ctx)
		cancelCtx()
		cancelAlloc()
	}
	t.Cleanup(b.end)
	if err := chromedp.Do(ctx); err != nil { // the first action starts the browser: alone
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) close() { b.end() }

// tab opens another tab in the same browser, closed at the end of t.
func (b *browser) tab(t *testing.T) *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return &browser{t: t, ctx: ctx, end: cancel}
}

// do runs actions with a deadline, failing the test on error.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := b.try(10*time.Second, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) try(d time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

func (b *browser) nav(url string) { b.t.Helper(); b.do(chromedp.Navigate(url)) }

// eval evaluates js, which must return a string.
func (b *browser) eval(js string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

func (b *browser) mustEval(js string) string {
	b.t.Helper()
	v, err := b.eval(js)
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// recordStatus starts recording, in window[store] by bubble data-id, the
// values attr takes on each bubble's status element (the first match of
// sel in the bubble), in order, a repeated value once: the trail of a
// message's ticks, which a test reads back with wait or mustEval.
func (b *browser) recordStatus(store, sel, attr string) {
	b.t.Helper()
	b.mustEval(fmt.Sprintf(`(() => { window[%[1]q] = {};
			const rec = () => document.querySelectorAll('#main div[data-id]').forEach(d => {
				const s = d.querySelector(%[2]q); if (!s) return;
				const a = (window[%[1]q][d.getAttribute('data-id')] ||= []); const v = s.getAttribute(%[3]q);
				if (a[a.length - 1] !== v) a.push(v); });
			new MutationObserver(rec).observe(document.querySelector('#main'), {subtree: true, childList: true, attributes: true, attributeFilter: [%[3]q]});
			return 'ok'; })()`, store, sel, attr))
}

// wait evaluates js until it returns a non-empty string.
func (b *browser) wait(what, js string, d time.Duration) string {
	b.t.Helper()
	end := time.Now().Add(d)
	var last error
	for time.Now().Before(end) {
		v, err := b.eval(js)
		if err == nil && v != "" {
			return v
		}
		last = err
		time.Sleep(40 * time.Millisecond)
	}
	b.t.Fatalf("timed out waiting for %s (last error %v)", what, last)
	return ""
}

func (b *browser) insertText(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: s})
		return err
	})
}

// caretAtEnd focuses the element sel and puts the caret after its content
// through the DOM, as a user's click at its end would.
func (b *browser) caretAtEnd(sel string) {
	b.t.Helper()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); if (!e) return 'none'; e.focus();
	  const s = window.getSelection(), r = document.createRange(); r.selectNodeContents(e); r.collapse(false);
	  s.removeAllRanges(); s.addRange(r); return 'ok'; })()`
	if v := b.mustEval(js); v != "ok" {
		b.t.Fatalf("caret at the end of %s: %s", sel, v)
	}
}

// rawEnter presses Enter (with Shift when shift) as rawKeyDown + keyUp, with
// no char event (fact 7).
func rawEnter(shift bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var mod int64
		if shift {
			mod = int64(chromedp.ModifierShift)
		}
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Modifiers: mod}
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// typeLines types text into the focused editor: Input.insertText per line,
// Shift+Enter between lines.
func (b *browser) typeLines(text string) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			steps = append(steps, rawEnter(true))
		}
		if line != "" {
			steps = append(steps, b.insertText(line))
		}
	}
	return chromedp.Steps(steps...)
}

// waitUntil polls cond until it holds.
func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if wait.Until(d, 40*time.Millisecond, cond) != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitMessage waits until account has sent a message with text and returns it.
func waitMessage(t *testing.T, fake *fakewa.Server, account, text string) fakewa.Message {
	t.Helper()
	var found fakewa.Message
	waitUntil(t, fmt.Sprintf("message %.40q", text), 10*time.Second, func() bool {
		for _, m := range fake.Messages(account) {
			if m.Text == text {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// addScript runs js in every document the tab loads from now on.
func (b *browser) addScript(js string) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return err
	}))
}

// JavaScript probes of the page contract.
const (
	qrJS        = `(() => { const c = document.querySelector('canvas[aria-label]'); const h = c && c.closest('[data-ref]'); return h ? h.getAttribute('data-ref') : ''; })()`
	composeSel  = `footer div[contenteditable="true"][role="textbox"][data-lexical-editor="true"][data-tab="10"]`
	paneSideJS  = `document.querySelector('#pane-side') ? 'yes' : ''`
	landingJS   = `document.querySelector('.landing-wrapper') ? 'yes' : ''`
	sendIconSel = `footer button > span[data-icon="send"]`
)

// dialogJS returns the text of the dialog whose text contains want, if it has a button.
func dialogJS(want string) string {
	return fmt.Sprintf(`(() => { const d = [...document.querySelectorAll('div[role="dialog"]')].find(d => d.innerText.includes(%q)); return d && d.querySelector('button') ? d.innerText : ''; })()`, want)
}
