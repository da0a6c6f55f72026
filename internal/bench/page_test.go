package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/browserpool"
)

// The page steps of the floors and of the old design, written against the
// page contract of the design directly (not through waweb): what a bare
// chromedp program needs and nothing more.

// Selectors of the page contract (facts 4, 7, 8, 10).
const (
	selPane    = `#pane-side`
	selCompose = `footer div[contenteditable="true"][role="textbox"]`
	// Both page builds: the older icons and fact 20's labels.
	selSend  = `footer button span[data-icon="send"], footer button[aria-label="Send"]`
	selAcked = `span[data-icon="msg-check"], span[data-icon="msg-dblcheck"], [aria-label=" Sent "], [aria-label=" Delivered "], [aria-label=" Read "]`
	selState = `[data-icon^="msg-"], [aria-label=" Pending "], [aria-label=" Sent "], [aria-label=" Delivered "], [aria-label=" Read "]`
)

// Selectors of fact 19 (a file): the attach button, the attach menu's file
// inputs, and the preview's caption box and send button (in #main outside
// footer: the page steps below skip what footer holds).
const (
	selAttach        = `#main footer button[aria-label="Attach"], #main footer button[title="Attach"]`
	selInputDocument = `#main input[type="file"][accept="*"]`
	selInputPhotos   = `#main input[type="file"][accept="image/*,video/mp4,video/3gpp,video/quicktime"]`
	selTextbox       = `#main div[contenteditable="true"][role="textbox"]`
	selPreviewSend   = `#main span[data-icon="send"], #main button[aria-label="Send"], #main [role="button"][aria-label="Send"]`
)

// jsWaitFor defines waitFor(check, ms): a promise of check()'s first truthy
// value, re-checked on every DOM change (so it ends within a frame of the
// change), or null after ms.
const jsWaitFor = `const waitFor = (check, ms) => new Promise((resolve) => {
  const probe = () => { try { return check(); } catch (e) { return null; } };
  const v = probe();
  if (v) { resolve(v); return; }
  let timer = 0;
  const obs = new MutationObserver(() => {
    const v = probe();
    if (v) { obs.disconnect(); clearTimeout(timer); resolve(v); }
  });
  obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  timer = setTimeout(() => { obs.disconnect(); resolve(probe() || null); }, ms);
});
`

// jsInvalid is a check for the not-on-WhatsApp dialog (facts 9, 14).
const jsInvalid = `[...document.querySelectorAll('div[role="dialog"]')].some(d => /isn.t on WhatsApp|shared via url is invalid/.test(d.innerText))`

// call builds an expression that runs fn (a JavaScript function of one
// argument) on arg, with waitFor defined.
func call(fn string, arg any) string {
	b, err := json.Marshal(arg)
	if err != nil {
		panic(err) // plain values only
	}
	return "(() => {\n" + jsWaitFor + "return (" + fn + ")(" + string(b) + ");\n})()"
}

// eval runs expr in the tab, awaiting a promise, and decodes its value.
func eval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// pageWait waits until check (a JavaScript function of arg returning a
// string, "" or a falsy value while not done) gives a value. It survives a
// navigation in between (the check starts again in the new document) and
// ends with ctx.
func pageWait(ctx context.Context, check string, arg any) (string, error) {
	fn := `(A) => waitFor(() => (` + check + `)(A.arg), 2000).then(v => v ? String(v) : "")`
	expr := call(fn, map[string]any{"arg": arg})
	for {
		v, err := eval[string](ctx, expr)
		var exc *chromedp.ExceptionError
		switch {
		case err == nil && v != "":
			return v, nil
		case err == nil:
			continue
		case ctx.Err() != nil:
			return "", ctx.Err()
		case errors.As(err, &exc):
			return "", err
		}
		// A navigation destroyed the script's context: try again shortly.
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// navigate loads url and waits for its load event.
func navigate(ctx context.Context, url string) error {
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// linkPage links the app shown in the tab to phone: load the landing, read
// its QR code (fact 2), scan it through fakewa, wait for the chat list.
func linkPage(ctx context.Context, e *env, phone string) error {
	if err := navigate(ctx, e.url+"/"); err != nil {
		return fmt.Errorf("load the landing: %w", err)
	}
	code, err := pageWait(ctx, `() => { const c = document.querySelector('canvas[aria-label]'); const h = c && c.closest('[data-ref]'); return h ? h.getAttribute('data-ref') : ''; }`, nil)
	if err != nil {
		return fmt.Errorf("wait for the QR code: %w", err)
	}
	if err := e.fake.Scan(code, phone); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if _, err := pageWait(ctx, `(S) => document.querySelector(S) ? 'main' : ''`, selPane); err != nil {
		return fmt.Errorf("wait for the main screen: %w", err)
	}
	return nil
}

// openInApp opens the chat that href names inside the app (fact 14): it marks
// the compose boxes that show now, appends an anchor to href and clicks it,
// then waits for a compose box that is not marked (the new chat's).
func openInApp(ctx context.Context, href string) error {
	_, err := eval[bool](ctx, call(`(A) => {
  document.querySelectorAll(A.compose).forEach((e) => { e.__benchOld = true; });
  const a = document.createElement('a');
  a.href = A.href;
  a.textContent = 'open chat';
  document.body.appendChild(a);
  a.click();
  a.remove();
  return true;
}`, map[string]string{"compose": selCompose, "href": href}))
	if err != nil {
		return fmt.Errorf("click the chat link: %w", err)
	}
	v, err := pageWait(ctx, `(C) => [...document.querySelectorAll(C)].some((e) => !e.__benchOld) ? 'open' : (`+jsInvalid+` ? 'invalid' : '')`, selCompose)
	if err != nil {
		return fmt.Errorf("wait for the chat: %w", err)
	}
	if v != "open" {
		return errors.New("the app says the number is not on WhatsApp")
	}
	return nil
}

// openByDeepLink loads the deep link with the text (fact 6) and waits until
// the compose box holds the text and the send button shows.
func openByDeepLink(ctx context.Context, base, digits, text string) error {
	u := base + "/send?phone=" + digits + "&text=" + strings.ReplaceAll(url.QueryEscape(text), "+", "%20")
	if err := navigate(ctx, u); err != nil {
		return fmt.Errorf("load the deep link: %w", err)
	}
	v, err := pageWait(ctx, `(A) => {
  const e = document.querySelector(A.compose);
  if (e && e.innerText.trim() === A.text && document.querySelector(A.send)) return 'open';
  return `+jsInvalid+` ? 'invalid' : '';
}`, map[string]string{"compose": selCompose, "send": selSend, "text": text})
	if err != nil {
		return fmt.Errorf("wait for the pre-filled chat: %w", err)
	}
	if v != "open" {
		return errors.New("the app says the number is not on WhatsApp")
	}
	return nil
}

// typeText focuses the compose box and enters text with Input.insertText
// (fact 7). text must hold no newline.
func typeText(ctx context.Context, text string) error {
	ok, err := eval[bool](ctx, call(`(C) => { const e = document.querySelector(C); if (!e) return false; e.focus(); return document.activeElement === e; }`, selCompose))
	if err != nil {
		return fmt.Errorf("focus the compose box: %w", err)
	}
	if !ok {
		return errors.New("no compose box to focus")
	}
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		return fmt.Errorf("insert text: %w", err)
	}
	return nil
}

// clickAndAck notes the outgoing bubbles of the open chat (a true_ id, or
// a status element: facts 10 and 20), clicks the send button (waiting for it
// if needed, fact 8) and waits for a new bubble showing msg-check or the
// label " Sent " (or later), in one evaluation. It returns the bubble's
// data-id.
func clickAndAck(ctx context.Context, limit time.Duration) (string, error) {
	return clickSendAndAck(ctx, limit, false)
}

// clickPreviewAndAck is clickAndAck with the send button of a file's
// preview (fact 19: in #main, outside footer).
func clickPreviewAndAck(ctx context.Context, limit time.Duration) (string, error) {
	return clickSendAndAck(ctx, limit, true)
}

func clickSendAndAck(ctx context.Context, limit time.Duration, preview bool) (string, error) {
	v, err := eval[string](ctx, call(`async (A) => {
  const mine = () => [...document.querySelectorAll('#main div[data-id]')].filter((b) => {
    const id = b.getAttribute('data-id');
    return id.startsWith('true_') || (!id.startsWith('false_') && !!b.querySelector(A.state));
  });
  const before = new Set(mine().map((b) => b.getAttribute('data-id')));
  const button = () => {
    if (!A.preview) { const s = document.querySelector(A.send); return s && s.closest('button'); }
    const s = [...document.querySelectorAll(A.previewSend)].find((e) => !e.closest('footer'));
    return s && s.closest('button, [role="button"]');
  };
  const btn = await waitFor(button, 5000);
  if (!btn) return 'error: no send button';
  btn.click();
  const id = await waitFor(() => {
    const b = mine().find((b) => !before.has(b.getAttribute('data-id')) && b.querySelector(A.acked));
    return b ? b.getAttribute('data-id') : null;
  }, A.ms);
  return id || 'error: no msg-check';
}`, map[string]any{"send": selSend, "previewSend": selPreviewSend, "preview": preview, "acked": selAcked, "state": selState, "ms": limit.Milliseconds()}))
	if err != nil {
		return "", fmt.Errorf("click send and wait for msg-check: %w", err)
	}
	if e, ok := strings.CutPrefix(v, "error: "); ok {
		return "", errors.New(e)
	}
	return v, nil
}

// bareBrowser is a Chromium started by chromedp itself with its
// DefaultExecAllocatorOptions, plus what this machine and the page need: the
// binary, the profile, no sandbox as root, no GPU, no component updates, a
// desktop window and user agent (fact 13).
type bareBrowser struct {
	ctx     context.Context // the tab
	cancel  func()
	profile string
}

// bare starts a bare browser on the profile root/name, linked to
// account; it is stopped when b ends.
func (e *env) bare(b testing.TB, name, account string) *bareBrowser {
	br, err := startBare(e.chromium, filepath.Join(e.root, name))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.cancel)
	tab, cancel := context.WithTimeout(br.ctx, 90*time.Second)
	defer cancel()
	if err := linkPage(tab, e, account); err != nil {
		b.Fatalf("link the bare browser %s: %v", name, err)
	}
	return br
}

func startBare(chromium, profile string) (*bareBrowser, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.UserDataDir(profile),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900), chromedp.UserAgent(browserpool.DefaultUserAgent))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &bareBrowser{ctx: ctx, profile: profile, cancel: func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = chromedp.Cancel(cctx) // Browser.close, then the process is waited for
		cancel()
		cancelTab()
		cancelAlloc()
	}}
	// The first action starts the browser: alone, never beside another, and
	// on the tab context itself, since chromedp ties the process to the
	// context of that action (a timeout there would end the browser).
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		return nil, fmt.Errorf("start a bare chromium: %w", err)
	}
	return b, nil
}

// floorSend is one message of a floor: open the chat inside the app when
// open is set (and, with a late editor, wait until fakewa's test hook says
// the editor is live), type, click and wait for msg-check. It returns the
// phases: open, input, ack.
func (br *bareBrowser) floorSend(base, to, text string, open bool) (map[string]time.Duration, error) {
	tab, cancel := context.WithTimeout(br.ctx, 60*time.Second)
	defer cancel()
	ph := phaseTimer{}
	if open {
		if err := ph.run("open", func() error {
			if err := openInApp(tab, base+"/send?phone="+to); err != nil {
				return err
			}
			if _, err := pageWait(tab, `() => document.querySelector('#main[data-fake-editor-live="false"]') ? '' : 'live'`, nil); err != nil {
				return fmt.Errorf("wait for the editor: %w", err)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if err := ph.run("input", func() error { return typeText(tab, text) }); err != nil {
		return nil, err
	}
	if err := ph.run("ack", func() error { _, err := clickAndAck(tab, 30*time.Second); return err }); err != nil {
		return nil, err
	}
	return ph, nil
}

// phaseTimer holds how long each phase of one floor message took.
type phaseTimer map[string]time.Duration

// run runs f and, when it succeeds, records its time under name.
func (p phaseTimer) run(name string, f func() error) error {
	t := time.Now()
	if err := f(); err != nil {
		return err
	}
	p[name] = time.Since(t)
	return nil
}

// attachFile attaches the file at path in the open chat (fact 19): it
// clicks the attach button, waits for the menu's input (the documents one
// when document is set, else photos and videos), sets the file on it with
// DOM.setFileInputFiles and waits for the preview's caption box.
func attachFile(ctx context.Context, path string, document bool) error {
	in := selInputPhotos
	if document {
		in = selInputDocument
	}
	ok, err := eval[bool](ctx, call(`(S) => { const b = document.querySelector(S); if (!b) return false; b.click(); return true; }`, selAttach))
	switch {
	case err != nil:
		return fmt.Errorf("click the attach button: %w", err)
	case !ok:
		return errors.New("no attach button in the open chat")
	}
	if _, err := pageWait(ctx, `(S) => document.querySelector(S) ? 'menu' : ''`, in); err != nil {
		return fmt.Errorf("wait for the attach menu: %w", err)
	}
	obj, err := chromedp.Run(ctx, chromedp.Evaluate[*runtime.RemoteObject](call(`(S) => document.querySelector(S)`, in)))
	if err != nil || obj == nil || obj.ObjectID == "" {
		return fmt.Errorf("the attach menu's input %s: %v", in, err)
	}
	defer func() {
		_, _ = chromedp.Call(ctx, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.ObjectID})
	}()
	if _, err := chromedp.Call(ctx, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{path}, ObjectID: obj.ObjectID}); err != nil {
		return fmt.Errorf("set the file on its input: %w", err)
	}
	if _, err := pageWait(ctx, `(S) => [...document.querySelectorAll(S)].some((e) => !e.closest('footer')) ? 'preview' : ''`, selTextbox); err != nil {
		return fmt.Errorf("wait for the preview: %w", err)
	}
	return nil
}

// typeCaption focuses the preview's caption box (outside footer) and
// enters text with Input.insertText (facts 7 and 19). text must hold no
// newline.
func typeCaption(ctx context.Context, text string) error {
	ok, err := eval[bool](ctx, call(`(S) => { const e = [...document.querySelectorAll(S)].find((e) => !e.closest('footer')); if (!e) return false; e.focus(); return document.activeElement === e; }`, selTextbox))
	if err != nil {
		return fmt.Errorf("focus the caption box: %w", err)
	}
	if !ok {
		return errors.New("no caption box to focus")
	}
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		return fmt.Errorf("insert the caption: %w", err)
	}
	return nil
}

// floorSendFile is one file of a floor: open the chat inside the app when
// open is set, attach the file at path (through the documents input when
// document is set), type the caption, click the preview's send button and
// wait for msg-check. It returns the phases: open, attach, input, ack.
func (br *bareBrowser) floorSendFile(base, to, caption, path string, document, open bool) (map[string]time.Duration, error) {
	tab, cancel := context.WithTimeout(br.ctx, 60*time.Second)
	defer cancel()
	ph := phaseTimer{}
	if open {
		if err := ph.run("open", func() error { return openInApp(tab, base+"/send?phone="+to) }); err != nil {
			return nil, err
		}
	}
	if err := ph.run("attach", func() error { return attachFile(tab, path, document) }); err != nil {
		return nil, err
	}
	if err := ph.run("input", func() error { return typeCaption(tab, caption) }); err != nil {
		return nil, err
	}
	if err := ph.run("ack", func() error { _, err := clickPreviewAndAck(tab, 30*time.Second); return err }); err != nil {
		return nil, err
	}
	return ph, nil
}
