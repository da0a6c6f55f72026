package waweb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/internal/wait"
)

// Limits bound the driver's internal waits; the caller's context bounds them
// too, whichever ends first. A zero field takes its default.
type Limits struct {
	// Boot bounds WaitBooted and the boot after a deep link. Default 60s.
	Boot time.Duration
	// InAppOpen bounds the wait for a chat opened inside the app (fact 14)
	// before Send falls back to the deep link. Default 5s.
	InAppOpen time.Duration
	// ChatOpen bounds the wait for the compose box or the invalid-number
	// dialog after a deep link has booted. Default 30s.
	ChatOpen time.Duration
	// Control bounds the wait for a control to appear: the send button, the
	// text in the box, the phone number input, "Next". Default 5s.
	Control time.Duration
	// Ack bounds the wait for msg-check after the click. Default 2m.
	Ack time.Duration
	// UploadPerMiB is added to Ack for each started MiB of a file a draft
	// carries (fact 19: its bubble shows msg-time while the file uploads,
	// seconds per MB on a real network); see AckFor. Default 10s: a 16 MiB
	// file may take 2m + 160s.
	UploadPerMiB time.Duration
}

// DefaultLimits returns the limits a zero Limits field takes.
func DefaultLimits() Limits {
	return Limits{Boot: 60 * time.Second, InAppOpen: 5 * time.Second, ChatOpen: 30 * time.Second,
		Control: 5 * time.Second, Ack: 2 * time.Minute, UploadPerMiB: 10 * time.Second}
}

// UploadAllowance is the time a file of size bytes is given to upload:
// UploadPerMiB for each started MiB (a zero UploadPerMiB takes its default).
func (l Limits) UploadAllowance(size int64) time.Duration {
	l = l.withDefaults()
	mib := (max(size, 0) + 1<<20 - 1) >> 20
	return time.Duration(mib) * l.UploadPerMiB
}

// AckFor is how long WaitAck waits for the bubble of a file of size bytes
// to be acked: Ack plus UploadAllowance(size).
func (l Limits) AckFor(size int64) time.Duration {
	return l.withDefaults().Ack + l.UploadAllowance(size)
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, def *time.Duration }{
		{&l.Boot, &d.Boot}, {&l.InAppOpen, &d.InAppOpen}, {&l.ChatOpen, &d.ChatOpen},
		{&l.Control, &d.Control}, {&l.Ack, &d.Ack}, {&l.UploadPerMiB, &d.UploadPerMiB},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// OpenMethod says how Send or Prepare reached the chat.
type OpenMethod int

const (
	// OpenNone: no chat opened yet, or the operation failed before.
	OpenNone OpenMethod = iota
	// OpenAlready: the chat was open already and was used as it was.
	OpenAlready
	// OpenInApp: opened inside the app by a clicked link (fact 14), no page load.
	OpenInApp
	// OpenDeepLink: opened by loading the deep link (fact 6), a page load.
	OpenDeepLink
)

func (m OpenMethod) String() string {
	switch m {
	case OpenAlready:
		return "already-open"
	case OpenInApp:
		return "in-app"
	case OpenDeepLink:
		return "deep-link"
	}
	return "none"
}

// Page drives one WhatsApp Web tab. See the package documentation for who
// may call what concurrently.
type Page struct {
	tab    context.Context
	base   string       // target URL without trailing slash
	origin string       // scheme://host of the target URL
	sels   *SelectorSet // the selectors in force, maybe shared with other pages
	limits Limits

	mu       sync.Mutex // guards the fields that follow
	chat     string     // digits of the chat this Page opened last; "" after a navigation
	lastOpen OpenMethod // how the last Send or Prepare reached its chat
	seq      uint64     // counter for page marks
}

// New wraps a chromedp tab context whose browser is already started (the
// caller owns the browser and the tab). baseURL is the app's address, e.g.
// "https://web.whatsapp.com" or a fakewa URL. A zero Selectors means
// DefaultSelectors; any other value is used as given (LoadSelectors
// validates it).
func New(tab context.Context, baseURL string, sel Selectors) *Page {
	if reflect.ValueOf(sel).IsZero() {
		sel = DefaultSelectors()
	}
	return NewShared(tab, baseURL, newSelectorSet(sel))
}

// NewShared is New with a SelectorSet that other pages may share: a Store
// on it reaches this page at its next operation.
func NewShared(tab context.Context, baseURL string, sels *SelectorSet) *Page {
	base := strings.TrimRight(baseURL, "/")
	origin := base
	if u, err := url.Parse(base); err == nil && u.Scheme != "" && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	return &Page{tab: tab, base: base, origin: origin, sels: sels, limits: DefaultLimits()}
}

// sel gives the selectors in force now.
func (p *Page) sel() Selectors { return p.sels.load().sel }

// SetLimits replaces the internal bounds (zero fields take their defaults).
// Call it before the Page is in use.
func (p *Page) SetLimits(l Limits) { p.limits = l.withDefaults() }

// Selectors returns the selectors the Page uses now.
func (p *Page) Selectors() Selectors { return p.sel() }

// LastOpen says how the last Send or Prepare reached its chat.
func (p *Page) LastOpen() OpenMethod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastOpen
}

func (p *Page) setOpen(digits string, m OpenMethod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chat, p.lastOpen = digits, m
}

// forget drops the open chat: after any navigation, reload or crash.
func (p *Page) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chat = ""
}

func (p *Page) chatIs(digits string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.chat == digits
}

func (p *Page) token() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return fmt.Sprintf("w%d-%d", time.Now().UnixNano(), p.seq)
}

// with returns a context for chromedp calls on the tab that also ends when
// ctx ends, with ctx's deadline.
//
// When ctx's deadline passes, the returned context reports
// context.DeadlineExceeded (its own copy of the deadline), not Canceled.
func (p *Page) with(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancelCause(p.tab)
	dl, hasDeadline := ctx.Deadline()
	stop := context.AfterFunc(ctx, func() {
		if hasDeadline && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return // the copy of the deadline below ends c2 with the right error
		}
		cancel(context.Cause(ctx))
	})
	if hasDeadline {
		c2, cancel2 := context.WithDeadline(c, dl)
		return c2, func() { stop(); cancel2(); cancel(nil) }
	}
	return c, func() { stop(); cancel(nil) }
}

// wrap adds ErrPageClosed to err when the tab is gone.
func (p *Page) wrap(err error) error {
	if err == nil {
		return nil
	}
	if p.tab.Err() != nil || errors.Is(err, chromedp.ErrTargetDetached) || errors.Is(err, chromedp.ErrChannelClosed) {
		if !errors.Is(err, ErrPageClosed) {
			return fmt.Errorf("%w: %w", ErrPageClosed, err)
		}
	}
	return err
}

// script builds the expression that runs fn (a JavaScript arrow function of
// one argument) with arg as JSON, after the prelude.
func (p *Page) script(fn string, arg any) string {
	a := "null"
	if arg != nil {
		b, err := json.Marshal(arg)
		if err != nil {
			panic(err) // the driver passes plain values only
		}
		a = string(b)
	}
	return "(() => {\nconst S = " + p.sels.load().json + ";\n" + jsPrelude + jsSkeletonLib + "\nreturn (" + fn + ")(" + a + ");\n})()"
}

// eval runs fn in the page and decodes its result into T; a promise is awaited.
func eval[T any](ctx context.Context, p *Page, fn string, arg any) (T, error) {
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](p.script(fn, arg), chromedp.EvalAwaitPromise))
	return v, p.wrap(err)
}

type waitResult[T any] struct {
	OK bool `json:"ok"`
	V  T    `json:"v"`
}

// waitJS runs the check fn (a JavaScript arrow function of A returning a
// truthy value when done) in the page until it gives a value, limit passes
// (found false, no error) or ctx ends. The page re-checks on every DOM
// change, so the wait ends within a frame of the change; a navigation in
// between is survived (the check starts again in the new document).
func waitJS[T any](ctx context.Context, p *Page, check string, arg any, limit time.Duration) (v T, found bool, err error) {
	var deadline time.Time
	if limit > 0 {
		deadline = time.Now().Add(limit)
	}
	fn := `(A) => waitFor(() => (` + check + `)(A.arg), A.ms).then(v => v ? {ok: true, v: v} : {ok: false})`
	for {
		slice := 2 * time.Second
		if !deadline.IsZero() {
			rem := time.Until(deadline)
			if rem <= 0 {
				return v, false, nil
			}
			slice = min(slice, rem)
		}
		r, err := eval[waitResult[T]](ctx, p, fn, map[string]any{"arg": arg, "ms": slice.Milliseconds()})
		switch {
		case err == nil && r.OK:
			return r.V, true, nil
		case err == nil:
			continue
		case ctx.Err() != nil:
			return v, false, p.wrap(ctx.Err())
		case !retryable(err):
			return v, false, err
		}
		// A navigation destroyed the context of the script: try again shortly.
		if err := wait.Sleep(ctx, 50*time.Millisecond); err != nil {
			return v, false, p.wrap(err)
		}
	}
}

// retryable reports whether a failed evaluation may work when tried again,
// e.g. after a navigation destroyed its execution context.
func retryable(err error) bool {
	var exc *chromedp.ExceptionError
	switch {
	case errors.Is(err, ErrPageClosed), errors.As(err, &exc):
		return false
	}
	return true
}

// networkEnableWait bounds the wait for Network.enable's answer before a
// navigation (navigate).
const networkEnableWait = 500 * time.Millisecond

// navigate loads url in the tab and waits for its load event, answering any
// JavaScript dialog meanwhile (a beforeunload dialog blocks a navigation).
// It forgets the open chat.
//
// The Network domain is on for the navigation only: chromedp enables it on
// every tab and tells a failed load by its events, but nothing else reads
// them, and while it is on Chrome turns every request and WebSocket frame
// of the page into an event on the pipe (an idle page's polling included)
// and keeps response bodies for DevTools.
func (p *Page) navigate(ctx context.Context, url string) error {
	p.forget()
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_, _ = chromedp.Call(dctx, network.Disable, cdp.Empty{})
		dcancel()
	}()
	var wg sync.WaitGroup
	// Network.enable is sent before the navigation, but its answer needs a
	// renderer: after a renderer crash it comes only with the one this
	// navigation starts (measured), so wait for it briefly. A tab that is
	// gone fails the navigation itself.
	enabled := make(chan struct{})
	wg.Go(func() {
		defer close(enabled)
		_, _ = chromedp.Call(nctx, network.Enable, network.EnableParams{})
	})
	t := time.NewTimer(networkEnableWait)
	select {
	case <-enabled:
	case <-t.C:
	}
	t.Stop()
	dialogs := chromedp.Events(nctx, page.JavascriptDialogOpening)
	wg.Go(func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			// Watch may have answered it already: ignore the error then.
			_, _ = chromedp.Call(nctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	})
	err := chromedp.Do(nctx, chromedp.Navigate(url))
	cancel()
	wg.Wait()
	p.forget()
	if err != nil {
		return p.wrap(fmt.Errorf("navigate: %w", err))
	}
	return nil
}

// Open navigates to the target URL (a full page load) and returns once it
// has loaded; WaitBooted then waits for the app.
func (p *Page) Open(ctx context.Context) error {
	cctx, cancel := p.with(ctx)
	defer cancel()
	return p.navigate(cctx, p.base+"/")
}

// keyDef is a key for a rawKeyDown + keyUp pair.
type keyDef struct {
	key, code string
	vk        int64
	mods      int64
	command   string // editing command for the key down, "" for none
}

var (
	keyShiftEnter = keyDef{key: "Enter", code: "Enter", vk: 13, mods: 8}
	keySelectAll  = keyDef{key: "a", code: "KeyA", vk: 65, mods: 2, command: "selectAll"}
	keyBackspace  = keyDef{key: "Backspace", code: "Backspace", vk: 8, command: "deleteBackward"}
	keyEscape     = keyDef{key: "Escape", code: "Escape", vk: 27}
)

// press sends k as rawKeyDown and keyUp, with no char event (fact 7).
func press(ctx context.Context, k keyDef) error {
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: k.key, Code: k.code,
		WindowsVirtualKeyCode: k.vk, NativeVirtualKeyCode: k.vk, Modifiers: k.mods}
	if k.command != "" {
		down.Commands = []string{k.command}
	}
	up := down
	up.Type, up.Commands = input.DispatchKeyEventTypeKeyUp, nil
	for _, ev := range []input.DispatchKeyEventParams{down, up} {
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, ev); err != nil {
			return fmt.Errorf("key %s: %w", k.key, err)
		}
	}
	return nil
}

// insertText enters text into the focused element with Input.insertText,
// one call per line, Shift+Enter between lines.
func insertText(ctx context.Context, text string) error {
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			if err := press(ctx, keyShiftEnter); err != nil {
				return err
			}
		}
		if line == "" {
			continue
		}
		if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: line}); err != nil {
			return fmt.Errorf("insert text: %w", err)
		}
	}
	return nil
}

// Screenshot returns a PNG of the viewport.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	cctx, cancel := p.with(ctx)
	defer cancel()
	b, err := chromedp.Run(cctx, chromedp.CaptureScreenshot())
	return b, p.wrap(err)
}
