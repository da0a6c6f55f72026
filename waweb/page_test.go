package waweb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wapool/wapool/fakewa"
	"github.com/wapool/wapool/waweb"
)

const (
	account = "15550001111"
	alice   = "15550002222"
	bob     = "15550003333"
	carol   = "15550004444"
	nobody  = "15550100000" // ends in 0000: not on WhatsApp at fakewa
)

// hardText has emoji, right-to-left script, newlines (one blank line),
// white space around it, and 4,096 characters in all.
func hardText() string {
	head := "  Order #42 😀👍🏽\nمرحبا بالعالم — שלום\n\n"
	tail := "\nend ✅ "
	return head + strings.Repeat("x", 4096-len([]rune(head))-len([]rune(tail))) + tail
}

func TestLinkAndSend(t *testing.T) {
	e := newEnv(t, fastOptions(), waweb.DefaultSelectors())
	ctx := ctxFor(t, 90*time.Second)

	qr := e.openLanding(t)
	if parts := strings.Split(qr.Code, ","); len(parts) < 4 || qr.Expired {
		t.Fatalf("QR %+v: want ref,noise,identity,adv", qr)
	}
	if !slices.ContainsFunc(e.fake.QRCodes(), func(s fakewa.ShownQR) bool { return s.Code == qr.Code }) {
		t.Fatalf("QR %q is not among fakewa's shown codes %v", qr.Code, e.fake.QRCodes())
	}
	img, err := e.page.QRPNG(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(img)); err != nil || cfg.Width < 50 || cfg.Height < 50 {
		t.Fatalf("QR PNG: %v, %+v", err, cfg)
	}
	if got := e.page.LinkedPhone(ctx); got != "" {
		t.Errorf("LinkedPhone before linking = %q", got)
	}
	if _, err := e.page.Send(ctx, alice, "hi"); !errors.Is(err, waweb.ErrNotLinked) {
		t.Errorf("Send on the landing: %v, want ErrNotLinked", err)
	}

	if err := e.fake.Scan(qr.Code, account); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.State == waweb.StateMain })
	if st, err := e.page.State(ctx); err != nil || st != waweb.StateMain {
		t.Fatalf("State = %s, %v; want main", st, err)
	}
	checkLinkedPhone(t, e, account)

	e.mark(t)
	text := hardText()
	id, err := e.page.Send(ctx, alice, text)
	if err != nil {
		t.Fatal(err)
	}
	m := e.received(t, account, alice, strings.TrimSpace(text))
	sameID(t, id, m)
	if m.Ack < 1 {
		t.Errorf("fakewa message ack %d, want ≥1 once Send returned", m.Ack)
	}
	if got := e.page.LastOpen(); got != waweb.OpenInApp {
		t.Errorf("new recipient opened by %s, want in-app", got)
	}
	if !e.marked(t) {
		t.Error("Send to a new recipient loaded the page")
	}

	id2, err := e.page.Send(ctx, alice, "second one")
	if err != nil {
		t.Fatal(err)
	}
	sameID(t, id2, e.received(t, account, alice, "second one"))
	if id2 == id {
		t.Errorf("second Send returned the first id %q", id)
	}
	if got := e.page.LastOpen(); got != waweb.OpenAlready {
		t.Errorf("open chat reached by %s, want already-open", got)
	}

	// A draft left in the open chat's box is replaced, not sent along.
	if err := chromedp.Do(e.tab,
		chromedp.Focus(chromedp.CSS(waweb.DefaultSelectors().Compose)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: "stale draft"})
			return err
		})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.page.Send(ctx, alice, "clean"); err != nil {
		t.Fatal(err)
	}
	e.received(t, account, alice, "clean")
	for _, m := range e.fake.Messages(account) {
		if strings.Contains(m.Text, "draft") {
			t.Fatalf("the draft went out: %q", m.Text)
		}
	}

	// A second new recipient while a chat with bubbles is open.
	id3, err := e.page.Send(ctx, bob, "to bob")
	if err != nil {
		t.Fatal(err)
	}
	sameID(t, id3, e.received(t, account, bob, "to bob"))
	if got := e.page.LastOpen(); got != waweb.OpenInApp {
		t.Errorf("bob opened by %s, want in-app", got)
	}
	for _, m := range e.fake.Messages(account) {
		if m.To == alice && m.Text == "to bob" {
			t.Fatal("the message to bob went to alice")
		}
	}

	_, err = e.page.Send(ctx, nobody, "hello?")
	if !errors.Is(err, waweb.ErrRecipientNotOnWhatsApp) {
		t.Fatalf("Send to %s: %v, want ErrRecipientNotOnWhatsApp", nobody, err)
	}
	if !e.marked(t) {
		t.Error("the sends loaded the page")
	}
	// The dialog is gone: a send after it works.
	if _, err := e.page.Send(ctx, alice, "after the dialog"); err != nil {
		t.Fatal(err)
	}
	e.received(t, account, alice, "after the dialog")

	// A lookup, as after a crash: Prepare notes the chat's outgoing bubbles
	// and those that show the text; the sent text is there, an unsent one not.
	if d := lookup(t, ctx, e.page, alice, text); !slices.Contains(d.Noted, id) || len(matching(d)) != 1 || matching(d)[0].ID != id || !matching(d)[0].Acked {
		t.Errorf("Prepare(sent) matching %+v, want [%s acked]; noted %v", matching(d), id, d.Noted)
	}
	if d := lookup(t, ctx, e.page, alice, "never sent"); len(matching(d)) != 0 || len(d.Noted) < 4 || len(d.Out) != len(d.Noted) {
		t.Errorf("Prepare(unsent) = %+v, want no matching bubble and at least 4 noted", d)
	}
	if d := lookup(t, ctx, e.page, bob, "to bob"); len(matching(d)) != 1 || matching(d)[0].ID != id3 {
		t.Errorf("Prepare(bob) matching %+v, want [%s]", matching(d), id3)
	}
	// Carol's chat has no bubbles: opening the next chat must not mistake
	// her still-open box for the new one.
	if d := lookup(t, ctx, e.page, carol, "nothing"); len(d.Noted) != 0 || len(d.Out) != 0 {
		t.Errorf("Prepare(empty chat) = %+v", d)
	}
	id4, err := e.page.Send(ctx, bob, "after an empty chat")
	if err != nil {
		t.Fatal(err)
	}
	sameID(t, id4, e.received(t, account, bob, "after an empty chat"))
	for _, m := range e.fake.Messages(account) {
		if m.To == carol {
			t.Fatalf("a message went to carol: %q", short(m.Text))
		}
	}
	if got := e.page.LastOpen(); got != waweb.OpenInApp {
		t.Errorf("bob opened by %s, want in-app", got)
	}
	if !e.marked(t) {
		t.Error("Prepare or Send loaded the page")
	}
}

// matching gives the draft's outgoing bubbles that show its text.
func matching(d waweb.Draft) []waweb.Bubble {
	var out []waweb.Bubble
	for _, b := range d.Out {
		if b.Match {
			out = append(out, b)
		}
	}
	return out
}

// lookup prepares text to digits and discards it, as the supervisor's lookup
// of a clicked message does when it finds the message sent.
func lookup(t *testing.T, ctx context.Context, p *waweb.Page, digits, text string) waweb.Draft {
	t.Helper()
	d, err := p.Prepare(ctx, digits, text)
	if err != nil {
		t.Fatalf("Prepare(%s): %v", digits, err)
	}
	if err := p.Discard(ctx); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	return d
}

func TestSendFallsBackToDeepLink(t *testing.T) {
	t.Run("link not taken over", func(t *testing.T) {
		sel := waweb.DefaultSelectors()
		sel.ChatLink = "{origin}/nowhere?phone={phone}" // the app does not take this over
		e := newEnv(t, fastOptions(), sel)
		// A fallback that waited for the in-app open to time out would take
		// all of InAppOpen: make it long, so that the bound below tells the
		// two apart on any machine.
		e.page.SetLimits(waweb.Limits{InAppOpen: 40 * time.Second})
		e.link(t, account)
		ctx := ctxFor(t, 60*time.Second)
		e.mark(t)
		start := time.Now()
		id, err := e.page.Send(ctx, alice, "by deep link\nline 2")
		if err != nil {
			t.Fatal(err)
		}
		sameID(t, id, e.received(t, account, alice, "by deep link\nline 2"))
		if got := e.page.LastOpen(); got != waweb.OpenDeepLink {
			t.Errorf("opened by %s, want deep-link", got)
		}
		if e.marked(t) {
			t.Error("no page load: the deep link was not used")
		}
		if d := time.Since(start); d >= 40*time.Second {
			t.Errorf("fallback took %v: an unhandled link must fall back at once, not after InAppOpen", d)
		}
		// The deep link's chat is open now: the next send uses it as it is.
		e.mark(t)
		if _, err := e.page.Send(ctx, alice, "again"); err != nil {
			t.Fatal(err)
		}
		if got := e.page.LastOpen(); got != waweb.OpenAlready || !e.marked(t) {
			t.Errorf("second send: opened by %s, marked %v", got, e.marked(t))
		}
		if _, err := e.page.Send(ctx, nobody, "x"); !errors.Is(err, waweb.ErrRecipientNotOnWhatsApp) {
			t.Errorf("invalid recipient by deep link: %v", err)
		}
	})
	t.Run("lookup too slow", func(t *testing.T) {
		opts := fastOptions()
		opts.LookupDelay = 3 * time.Second
		e := newEnv(t, opts, waweb.DefaultSelectors())
		e.page.SetLimits(waweb.Limits{InAppOpen: 300 * time.Millisecond})
		e.link(t, account)
		ctx := ctxFor(t, 60*time.Second)
		e.mark(t)
		id, err := e.page.Send(ctx, bob, "slow lookup")
		if err != nil {
			t.Fatal(err)
		}
		sameID(t, id, e.received(t, account, bob, "slow lookup"))
		if got := e.page.LastOpen(); got != waweb.OpenDeepLink || e.marked(t) {
			t.Errorf("opened by %s (marked %v), want deep-link", got, e.marked(t))
		}
	})
}

func TestSelectorsOverride(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "selectors.json")
	if err := os.WriteFile(file, []byte(`{"compose": "footer div.no-such-box"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sel, err := waweb.LoadSelectors(file)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Compose != "footer div.no-such-box" || sel.PaneSide != waweb.DefaultSelectors().PaneSide {
		t.Fatalf("override not applied as asked: %+v", sel)
	}
	e := newEnv(t, fastOptions(), sel)
	e.page.SetLimits(waweb.Limits{InAppOpen: 500 * time.Millisecond, ChatOpen: time.Second})
	e.link(t, account)
	_, err = e.page.Send(ctxFor(t, 30*time.Second), alice, "never")
	if !errors.Is(err, waweb.ErrUnexpectedPage) || !strings.Contains(err.Error(), "compose box") {
		t.Fatalf("Send with a compose selector that matches nothing: %v; want ErrUnexpectedPage naming the compose box", err)
	}
	// The click never happened: nothing can arrive later.
	if n := len(e.fake.Messages(account)); n != 0 {
		t.Errorf("fakewa received %d messages", n)
	}

	if err := os.WriteFile(file, []byte(`{"compose_box": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := waweb.LoadSelectors(file); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestPairingCode(t *testing.T) {
	e := newEnv(t, fastOptions(), waweb.DefaultSelectors())
	ctx := ctxFor(t, 60*time.Second)
	e.openLanding(t)

	if err := e.page.StartPhoneLogin(ctx, account); err != nil {
		t.Fatal(err)
	}
	s := e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.PairingCode != "" })
	code1 := s.PairingCode
	checkCode(t, code1)
	if got, err := e.page.PairingCode(ctx); err != nil || got != code1 {
		t.Errorf("PairingCode = %q, %v; want %q", got, err, code1)
	}
	if !slices.ContainsFunc(e.fake.PairingCodes(), func(p fakewa.Pairing) bool { return p.Code == code1 && p.Phone == account }) {
		t.Errorf("code %q for %s not among fakewa's %v", code1, account, e.fake.PairingCodes())
	}

	if err := e.page.BackToQR(ctx); err != nil {
		t.Fatal(err)
	}
	s = e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.QR.Code != "" && s.PairingCode == "" })
	if s.State != waweb.StateLanding {
		t.Errorf("back to QR: state %s", s.State)
	}

	if err := e.page.StartPhoneLogin(ctx, account); err != nil {
		t.Fatal(err)
	}
	s = e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.PairingCode != "" })
	checkCode(t, s.PairingCode)
	if err := e.fake.Pair(s.PairingCode); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.State == waweb.StateMain })
	checkLinkedPhone(t, e, account)
	if _, err := e.page.Send(ctx, carol, "paired"); err != nil {
		t.Fatal(err)
	}
	e.received(t, account, carol, "paired")
}

// checkLinkedPhone checks LinkedPhone on a linked page. The wid keys are
// not in the page contract and fakewa may not write them: then the test
// writes them as WhatsApp Web does (a JSON string) and reads them back.
func checkLinkedPhone(t *testing.T, e *env, phone string) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	if got := e.page.LinkedPhone(ctx); got != "" {
		if got != phone {
			t.Errorf("LinkedPhone = %q, want %q", got, phone)
		}
		return
	}
	t.Log("fakewa stores no last-wid-md / last-wid: writing them as WhatsApp Web does")
	for key, wid := range map[string]string{"last-wid": phone + "@c.us", "last-wid-md": phone + ":7@c.us"} {
		js := `localStorage.setItem(` + strconv.Quote(key) + `, JSON.stringify(` + strconv.Quote(wid) + `))`
		if err := chromedp.Do(e.tab, chromedp.Evaluate[chromedp.Void](js)); err != nil {
			t.Fatal(err)
		}
		if got := e.page.LinkedPhone(ctx); got != phone {
			t.Errorf("LinkedPhone with %s=%q: %q, want %q", key, wid, got, phone)
		}
	}
}

func checkCode(t *testing.T, code string) {
	t.Helper()
	if len(code) != 8 || strings.Trim(code, "123456789ABCDEFGHJKLMNPQRSTVWXYZ") != "" {
		t.Errorf("pairing code %q: want 8 characters of the contract's alphabet", code)
	}
}

func TestWatch(t *testing.T) {
	e := newEnv(t, fastOptions(), waweb.DefaultSelectors())
	e.link(t, account)
	ctx := ctxFor(t, 60*time.Second)

	wctx, stop := context.WithCancel(ctx)
	events := make(chan waweb.Event, 16)
	done := make(chan error, 1)
	go func() { done <- e.page.Watch(wctx, events) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	next := func(want waweb.EventKind) waweb.Event {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.Kind == want {
					return ev
				}
			case <-timeout:
				t.Fatalf("no %s event", want)
			}
		}
	}

	// A message left pending (msg-time) makes leaving the page ask (fact 11).
	e.fake.SetOptions(func(o *fakewa.Options) { o.AckDelay = 10 * time.Second })
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	id, err := e.page.Send(sctx, alice, "pending")
	cancel()
	if !errors.Is(err, waweb.ErrNotAcked) {
		t.Fatalf("Send with a 10s ack and a 2s deadline: %q, %v; want ErrNotAcked", id, err)
	}
	if id == "" {
		t.Error("ErrNotAcked without the pending bubble's id")
	}
	// As after a crash between click and ack: the bubble is there, do not send again.
	if d := lookup(t, ctx, e.page, alice, "pending"); len(matching(d)) != 1 || matching(d)[0].ID != id || matching(d)[0].Acked {
		t.Errorf("Prepare(pending) matching %+v, want [%s not acked]", matching(d), id)
	}
	e.fake.SetOptions(func(o *fakewa.Options) { o.AckDelay = 100 * time.Millisecond })
	// Reload behind the driver's back: only Watch can answer the dialog.
	if err := chromedp.Do(e.tab, chromedp.Evaluate[chromedp.Void](`setTimeout(() => location.reload(), 0)`)); err != nil {
		t.Fatal(err)
	}
	if ev := next(waweb.EventDialog); ev.Dialog != "beforeunload" {
		t.Errorf("dialog %+v, want beforeunload", ev)
	}
	next(waweb.EventNavigated)
	if st, err := e.page.WaitBooted(ctx); err != nil || st != waweb.StateMain {
		t.Fatalf("after the reload: %s, %v", st, err)
	}

	// State is a liveness probe: a hung page fails it, a recovered one passes.
	e.fake.SetHang(true)
	probe := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := e.page.State(pctx)
			cancel()
			if (err == nil) == want {
				if !want && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("probe of a hung page: %v, want DeadlineExceeded", err)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe never answered %v (last error %v)", want, err)
			}
		}
	}
	probe(false)
	e.fake.SetHang(false)
	probe(true)

	e.fake.Logout(account)
	if ev := next(waweb.EventLoggedOut); !strings.Contains(ev.URL, "post_logout=1") {
		t.Errorf("logged out event %+v", ev)
	}
	e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.State == waweb.StateLanding })
	if _, err := e.page.Send(ctx, alice, "x"); !errors.Is(err, waweb.ErrNotLinked) {
		t.Errorf("Send after logout: %v, want ErrNotLinked", err)
	}

	// A dead renderer is reported; navigating again revives the tab.
	cctx, cancel := context.WithTimeout(e.tab, time.Second)
	_, err = chromedp.Call(cctx, cdppage.Crash, cdp.Empty{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) { // the renderer dies before it answers
		t.Fatalf("Page.crash: %v", err)
	}
	next(waweb.EventCrashed)
	if err := e.page.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := e.page.WaitBooted(ctx); err != nil || st != waweb.StateLanding {
		t.Errorf("after the crash: %s, %v; want landing", st, err)
	}
}

func TestConflictAndUpdatePage(t *testing.T) {
	e := newEnv(t, fastOptions(), waweb.DefaultSelectors())
	e.link(t, account)
	ctx := ctxFor(t, 60*time.Second)

	// A second window on the same account (same origin, same storage).
	tab2 := newTab(t)
	p2 := waweb.New(tab2, e.url, waweb.DefaultSelectors())
	if err := p2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := p2.WaitBooted(ctx); err != nil || st != waweb.StateMain {
		t.Fatalf("second window: %s, %v", st, err)
	}
	e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.State == waweb.StateConflict })
	if _, err := e.page.Send(ctx, alice, "x"); !errors.Is(err, waweb.ErrConflict) || !errors.Is(err, waweb.ErrUnexpectedPage) {
		t.Errorf("Send in conflict: %v, want ErrConflict", err)
	}
	if err := e.page.UseHere(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.State == waweb.StateMain })
	if _, err := e.page.Send(ctx, alice, "used here"); err != nil {
		t.Fatal(err)
	}
	e.received(t, account, alice, "used here")

	shot, err := e.page.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(shot)); err != nil || cfg.Width != 1280 {
		t.Errorf("screenshot: %v, %+v; want a PNG 1280 wide", err, cfg)
	}

	// A HeadlessChrome user agent gets the update page (fact 13).
	tab3 := newTab(t)
	ua := strings.Replace(desktopUA, "Chrome/", "HeadlessChrome/", 1)
	if _, err := chromedp.Call(tab3, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua}); err != nil {
		t.Fatal(err)
	}
	p3 := waweb.New(tab3, e.url, waweb.DefaultSelectors())
	if err := p3.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := p3.WaitBooted(ctx); err != nil || st != waweb.StateUpdateBrowser {
		t.Errorf("HeadlessChrome user agent: %s, %v; want update-browser", st, err)
	}
}

func TestQRRotationAndReload(t *testing.T) {
	opts := fastOptions()
	opts.FirstQRLifetime = 600 * time.Millisecond
	opts.QRLifetime = 300 * time.Millisecond
	opts.QRRotations = 2
	e := newEnv(t, opts, waweb.DefaultSelectors())
	ctx := ctxFor(t, 30*time.Second)
	first := e.openLanding(t)
	seen := []string{first.Code}
	s := waweb.Snapshot{State: waweb.StateLanding, QR: first}
	for !s.QR.Expired {
		var err error
		if s, err = e.page.WaitChange(ctx, s); err != nil {
			t.Fatal(err)
		}
		if s.QR.Code != "" && s.QR.Code != seen[len(seen)-1] {
			seen = append(seen, s.QR.Code)
		}
	}
	if len(seen) != 3 {
		t.Errorf("saw %d codes before the reload button, want 1 + 2 rotations", len(seen))
	}
	if _, err := e.page.QRPNG(ctx); !errors.Is(err, waweb.ErrUnexpectedPage) {
		t.Errorf("QRPNG with expired codes: %v", err)
	}
	if err := e.page.ReloadQR(ctx); err != nil {
		t.Fatal(err)
	}
	s = e.waitFor(t, ctx, func(s waweb.Snapshot) bool { return s.QR.Code != "" })
	if slices.Contains(seen, s.QR.Code) {
		t.Errorf("reload showed an old code %q", s.QR.Code)
	}
}

// TestChatLinkForms opens chats inside the app with each href form of fact 14.
func TestChatLinkForms(t *testing.T) {
	e := newEnv(t, fastOptions(), waweb.DefaultSelectors())
	e.link(t, account)
	ctx := ctxFor(t, 60*time.Second)
	e.mark(t)
	for i, form := range []string{
		"{origin}/send?phone={phone}",
		"https://wa.me/{phone}",
		"https://api.whatsapp.com/send?phone={phone}",
	} {
		sel := waweb.DefaultSelectors()
		sel.ChatLink = form
		p := waweb.New(e.tab, e.url, sel)
		to := fmt.Sprintf("155500050%02d", i)
		id, err := p.Send(ctx, to, "via "+form)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		sameID(t, id, e.received(t, account, to, "via "+form))
		if got := p.LastOpen(); got != waweb.OpenInApp {
			t.Errorf("%s: opened by %s, want in-app", form, got)
		}
	}
	if !e.marked(t) {
		t.Error("a link loaded the page")
	}
}

// TestPrepareLateEditor: on a page whose editor takes its box a moment after
// the chat opens (fact 17), Prepare enters the text again within the same
// call; it returns only once the chat's history has shown, so the noted
// bubbles are the chat's; the message goes out once.
func TestPrepareLateEditor(t *testing.T) {
	opts := fastOptions()
	opts.EditorDelay = 800 * time.Millisecond
	e := newEnv(t, opts, waweb.DefaultSelectors())
	e.link(t, account)
	ctx := ctxFor(t, 60*time.Second)
	first, err := e.page.Send(ctx, alice, "first")
	if err != nil {
		t.Fatal(err)
	}
	reentered := false
	for i, to := range []string{bob, alice, carol, alice} {
		text := fmt.Sprintf("late %d", i)
		d, err := e.page.Prepare(ctx, to, text)
		if err != nil {
			t.Fatalf("Prepare %d: %v", i, err)
		}
		reentered = reentered || d.Entries > 1
		if to == alice && !slices.Contains(d.Noted, first) {
			t.Errorf("Prepare %d noted %v before alice's history showed (want %s)", i, d.Noted, first)
		}
		clicked, err := e.page.Click(ctx, d)
		if err != nil || !clicked {
			t.Fatalf("Click %d: %v, %v", i, clicked, err)
		}
		b, err := e.page.WaitAck(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Match || !b.Acked {
			t.Errorf("WaitAck %d = %+v, want the text matched and acked", i, b)
		}
		sameID(t, b.ID, e.received(t, account, to, text))
	}
	if !reentered {
		t.Error("no Prepare had to enter the text again: the late editor was not met")
	}
	n := 0
	for _, m := range e.fake.Messages(account) {
		if strings.HasPrefix(m.Text, "late ") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("fakewa got %d late messages, want 4", n)
	}
}
