package fakewa_test

// Tests that drive real Chromium against the fake and check the page
// contract (facts 1-15; facts 16 and 17 are in browser_login_test.go and
// browser_editor_test.go, facts 10, 18 and 20 in browser_draw_test.go) in
// the browser. Each test shares its browsers between its steps to stay fast.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"
	"github.com/wapool/wapool/fakewa"
)

const (
	phoneA  = "15550001111"
	contact = "15550002222"
)

// TestBrowserLinkChatAndLogout walks one browser through the life of a
// linked page: boot, QR rotation, scan, deep link, compose box, acks,
// beforeunload, chats opened in the app, the hang switch and a remote logout.
func TestBrowserLinkChatAndLogout(t *testing.T) {
	o := fastOptions()
	o.FirstQRLifetime, o.QRLifetime, o.QRRotations = 2*time.Second, time.Second, 1
	fake, base := newFake(t, o)
	b := startBrowser(t, t.TempDir())

	t.Run("boot shows progress, then the landing", func(t *testing.T) {
		b.t = t
		b.addScript(`window.__boot = {progress: false, shownAt: 0};
			document.addEventListener('DOMContentLoaded', () => {
				window.__boot.progress = !!document.querySelector('#app progress');
				new MutationObserver(() => {
					if (!window.__boot.shownAt && document.querySelector('.landing-wrapper, #pane-side')) window.__boot.shownAt = performance.now();
				}).observe(document.getElementById('app'), {childList: true, subtree: true});
			});`)
		b.nav(base + "/")
		b.wait("landing", landingJS, 10*time.Second)
		var boot struct {
			Progress bool
			ShownAt  float64
		}
		json.Unmarshal([]byte(b.mustEval(`JSON.stringify({Progress: window.__boot.progress, ShownAt: window.__boot.shownAt})`)), &boot)
		if !boot.Progress || boot.ShownAt < float64(o.BootDelay.Milliseconds()) {
			t.Fatalf("boot: progress %v, landing at %.0fms; want progress and landing after %v", boot.Progress, boot.ShownAt, o.BootDelay)
		}
	})

	var code string
	t.Run("QR text matches /_fake/qr, the canvas draws it, it rotates and runs out", func(t *testing.T) {
		b.t = t
		code = b.wait("QR code", qrJS, 10*time.Second)
		if parts := strings.Split(code, ","); len(parts) != 4 {
			t.Fatalf("data-ref %q: want ref,noiseKey,identityKey,advSecret", code)
		}
		if shown := fake.QRCodes(); len(shown) != 1 || shown[0].Code != code {
			t.Fatalf("/_fake/qr = %+v, page shows %q", shown, code)
		}
		checkCanvasDraws(t, b, code)

		next := b.wait("a rotated code", fmt.Sprintf(`(() => { const v = %s; return v && v !== %q ? v : ''; })()`, qrJS, code), 5*time.Second)
		if shown := fake.QRCodes(); len(shown) != 1 || shown[0].Code != next {
			t.Fatalf("after rotation /_fake/qr = %+v, page shows %q", shown, next)
		}
		if err := fake.Scan(code, phoneA); !errors.Is(err, fakewa.ErrExpiredCode) {
			t.Fatalf("scan of the rotated-away code: %v, want ErrExpiredCode", err)
		}
		checkCanvasDraws(t, b, next)

		b.wait("the reload button", `document.querySelector('[data-ref] button') && !document.querySelector('canvas[aria-label]') ? 'yes' : ''`, 5*time.Second)
		if shown := fake.QRCodes(); len(shown) != 0 {
			t.Fatalf("a page with its reload button lists %+v", shown)
		}
		b.do(chromedp.Click(chromedp.CSS(`[data-ref] button`)))
		code = b.wait("a new series", fmt.Sprintf(`(() => { const v = %s; return v && v !== %q ? v : ''; })()`, qrJS, next), 5*time.Second)
	})

	t.Run("a scan links", func(t *testing.T) {
		b.t = t
		if err := fake.Scan(code, phoneA); err != nil {
			t.Fatalf("scan: %v", err)
		}
		b.wait("#pane-side", paneSideJS, 5*time.Second)
	})

	t.Run("deep link prefills; Enter sends exactly the text once", func(t *testing.T) {
		b.t = t
		b.nav(base + "/send?phone=" + contact + "&text=" + "prefilled%20hello")
		b.wait("prefilled box", `(() => { const e = document.querySelector('`+composeSel+`'); return e && e.textContent === 'prefilled hello' ? 'yes' : ''; })()`, 10*time.Second)
		b.wait("send button", `document.querySelector('`+sendIconSel+`') ? 'yes' : ''`, 2*time.Second)
		// As the driver does (fact 7): the caret at the end of the box, then
		// Input.insertText and Enter as rawKeyDown + keyUp. How a version of
		// Chromium places the caret on focus, or delivers KeyEvent's char
		// event, is not part of the contract.
		b.caretAtEnd(composeSel)
		b.do(b.insertText(" + more"), rawEnter(false))
		waitMessage(t, fake, phoneA, "prefilled hello + more")
		if v := b.mustEval(`(() => { const e = document.querySelector('` + composeSel + `'); return JSON.stringify([e.innerText.replace(/\n$/, ''), !!document.querySelector('` + sendIconSel + `')]); })()`); v != `["",false]` {
			t.Fatalf("after the send, box and send button = %s, want empty and none", v)
		}
		// Shift+Enter is a line break, Enter sends (fact 7).
		b.caretAtEnd(composeSel)
		b.do(b.insertText("a"), rawEnter(true), b.insertText("b"), rawEnter(false))
		waitMessage(t, fake, phoneA, "a\nb")
	})

	t.Run("textContent sends nothing; insertText sends exactly the text", func(t *testing.T) {
		b.t = t
		before := len(fake.Messages(phoneA))
		b.mustEval(`(() => { document.querySelector('` + composeSel + `').textContent = 'ghost text'; return 'ok'; })()`)
		b.wait("the editor to draw its model over the assignment", `(() => { const e = document.querySelector('`+composeSel+`'); return e.textContent.includes('ghost') ? '' : 'yes'; })()`, 2*time.Second)
		b.caretAtEnd(composeSel)
		b.do(rawEnter(false))
		b.do(b.insertText("marker"), rawEnter(false))
		waitMessage(t, fake, phoneA, "marker")
		msgs := fake.Messages(phoneA)
		if len(msgs) != before+1 {
			t.Fatalf("messages after the textContent attempt: %+v", msgs[before:])
		}

		want := "emoji 😀👍🏽 and RTL: مرحبا بالعالم\nשלום\n\nlast line "
		want += strings.Repeat("x", 4096-utf8.RuneCountInString(want))
		b.do(b.typeLines("  " + want + "\n "))
		b.wait("send button", `document.querySelector('`+sendIconSel+`') ? 'yes' : ''`, 2*time.Second)
		b.do(chromedp.Click(chromedp.CSS(`footer button[aria-label="Send"]`)))
		got := waitMessage(t, fake, phoneA, want)
		if n := utf8.RuneCountInString(got.Text); n != 4096 {
			t.Fatalf("sent %d characters, want 4096", n)
		}
		// The bubble draws its emoji as img elements (fact 18): its text,
		// rebuilt as fact 18 says, is the text sent.
		if d := b.bubbleText(got.ID); d.Rebuilt != want {
			t.Fatalf("bubble rebuilt differs from the text sent (%d vs %d characters)", len(d.Rebuilt), len(want))
		}
		if n := len(fake.Messages(phoneA)); n != before+2 {
			t.Fatalf("%d messages sent, want 2", n-before)
		}
	})

	t.Run("acks progress msg-time, msg-check, msg-dblcheck", func(t *testing.T) {
		b.t = t
		b.recordStatus("__acks", `[data-icon^="msg-"]`, "data-icon")
		b.do(chromedp.Focus(chromedp.CSS(composeSel)), b.insertText("ack me"), rawEnter(false))
		m := waitMessage(t, fake, phoneA, "ack me")
		if !regexp.MustCompile(`^3EB0[0-9A-F]{16}$`).MatchString(m.ID) || m.To != contact {
			t.Fatalf("message %+v", m)
		}
		dataID := "true_" + contact + "@c.us_" + m.ID
		seq := b.wait("msg-dblcheck", fmt.Sprintf(`(() => { const a = window.__acks[%q] || []; return a.includes('msg-dblcheck') ? a.join(',') : ''; })()`, dataID), 5*time.Second)
		if seq != "msg-time,msg-check,msg-dblcheck" {
			t.Fatalf("icons of %s: %s", dataID, seq)
		}
		waitUntil(t, "server ack 2", 2*time.Second, func() bool {
			for _, x := range fake.Messages(phoneA) {
				if x.ID == m.ID {
					return x.Ack == 2
				}
			}
			return false
		})
		pre := b.mustEval(fmt.Sprintf(`document.querySelector('div[data-id=%q] div.copyable-text').getAttribute('data-pre-plain-text')`, dataID))
		if !regexp.MustCompile(`^\[\d{2}:\d{2}, \d{1,2}/\d{1,2}/\d{4}\] You: $`).MatchString(pre) {
			t.Fatalf("data-pre-plain-text %q", pre)
		}
	})

	t.Run("leaving with a pending bubble raises beforeunload", func(t *testing.T) {
		b.t = t
		fake.SetOptions(func(o *fakewa.Options) { o.AckDelay = time.Minute })
		defer fake.SetOptions(func(o *fakewa.Options) { o.AckDelay = 150 * time.Millisecond })
		b.nav(base + "/send?phone=15550003333")
		b.wait("compose box", `document.querySelector('`+composeSel+`') ? 'yes' : ''`, 10*time.Second)
		b.do(chromedp.Focus(chromedp.CSS(composeSel)), b.insertText("slow"), rawEnter(false))
		waitMessage(t, fake, phoneA, "slow")
		b.wait("msg-time", `document.querySelector('#main div[data-id] [data-icon="msg-time"]') ? 'yes' : ''`, 2*time.Second)

		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
		navDone := make(chan error, 1)
		go func() { navDone <- chromedp.Do(ctx, chromedp.Navigate(base+"/")) }()
		var typ page.DialogType
		for ev, err := range dialogs {
			if err != nil {
				t.Fatalf("no dialog: %v", err)
			}
			typ = ev.Type
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				t.Fatal(err)
			}
			break
		}
		if err := <-navDone; err != nil {
			t.Fatalf("navigation after the dialog: %v", err)
		}
		if typ != page.DialogTypeBeforeunload {
			t.Fatalf("dialog type %q, want beforeunload", typ)
		}
	})

	t.Run("invalid number deep link shows the dialog", func(t *testing.T) {
		b.t = t
		b.nav(base + "/send?phone=15550100000&text=hi")
		b.wait("invalid-number dialog", dialogJS("Phone number shared via url is invalid."), 10*time.Second)
		if v := b.mustEval(`document.querySelector('` + composeSel + `') ? 'compose' : ''`); v != "" {
			t.Fatal("compose box shown for an invalid number")
		}
		b.do(chromedp.Click(chromedp.CSS(`div[role="dialog"] button`)))
		b.wait("dialog closed", `document.querySelector('div[role="dialog"]') ? '' : 'yes'`, 2*time.Second)
	})

	t.Run("anchors open chats in the app with no page load", func(t *testing.T) {
		b.t = t
		b.nav(base + "/")
		b.wait("#pane-side", paneSideJS, 10*time.Second)
		b.mustEval(`(() => { window.__mark = 1; window.__starting = 0;
			new MutationObserver(() => { if ([...document.querySelectorAll('div[role="dialog"]')].some(d => d.innerText.includes('Starting chat'))) window.__starting++; })
				.observe(document.body, {subtree: true, childList: true});
			const a = document.createElement('a'); a.id = 'wa1'; a.href = 'https://wa.me/15550004444?text=hi%20there'; a.textContent = 'chat';
			a.style = 'position:fixed;top:4px;right:4px;z-index:99'; document.body.appendChild(a); return 'ok'; })()`)
		b.do(chromedp.Click(chromedp.CSS(`#wa1`))) // a real mouse click
		b.wait("the wa.me chat", `(() => { const e = document.querySelector('`+composeSel+`'); return e && window.__mark && document.querySelector('#main header [title="+15550004444"]') && e.textContent === 'hi there' ? 'yes' : ''; })()`, 5*time.Second)
		if v := b.mustEval(`window.__starting > 0 ? 'yes' : ''`); v != "yes" {
			t.Fatal(`no "Starting chat" popup was seen`)
		}

		click := func(href string) {
			b.mustEval(fmt.Sprintf(`(() => { const a = document.createElement('a'); a.href = %q; document.body.appendChild(a); a.click(); a.remove(); return 'ok'; })()`, href))
		}
		click("https://api.whatsapp.com/send?phone=15550005555")
		b.wait("the api.whatsapp.com chat", `document.querySelector('#main header [title="+15550005555"]') && window.__mark ? 'yes' : ''`, 5*time.Second)
		click(base + "/send?phone=" + contact)
		b.wait("the same-origin chat with its history", `document.querySelectorAll('#main div[data-id^="true_`+contact+`@c.us_"]').length >= 4 && document.querySelector('`+composeSel+`') && window.__mark ? 'yes' : ''`, 5*time.Second)
		click("https://wa.me/15550100000")
		b.wait("not-on-WhatsApp dialog", dialogJS("The number +15550100000 isn't on WhatsApp."), 5*time.Second)
		if v := b.mustEval(`window.__mark ? 'yes' : ''`); v != "yes" {
			t.Fatal("the page reloaded")
		}
		b.do(chromedp.Click(chromedp.CSS(`div[role="dialog"] button`)))

		// An anchor under [data-nohandle] is the browser's: a full page load.
		b.mustEval(fmt.Sprintf(`(() => { const d = document.createElement('div'); d.setAttribute('data-nohandle', ''); const a = document.createElement('a'); a.href = %q; d.appendChild(a); document.body.appendChild(d); a.click(); return 'ok'; })()`, base+"/send?phone=15550006666"))
		b.wait("the deep link page", `!window.__mark && document.querySelector('#main header [title="+15550006666"]') ? 'yes' : ''`, 10*time.Second)
	})

	t.Run("the hang switch stops the page answering", func(t *testing.T) {
		b.t = t
		probe := func() error {
			ctx, cancel := context.WithTimeout(b.ctx, 500*time.Millisecond)
			defer cancel()
			_, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`))
			return err
		}
		fake.SetHang(true)
		waitUntil(t, "a probe to time out", 5*time.Second, func() bool { return errors.Is(probe(), context.DeadlineExceeded) })
		fake.SetHang(false)
		waitUntil(t, "the page to answer again", 5*time.Second, func() bool { return probe() == nil })
		b.wait("#pane-side", paneSideJS, 2*time.Second)
	})

	t.Run("a remote logout returns to the landing", func(t *testing.T) {
		b.t = t
		start := time.Now()
		fake.Logout(phoneA)
		b.wait("post_logout landing", `location.href.includes('post_logout=1') && document.querySelector('.landing-wrapper canvas[aria-label]') ? 'yes' : ''`, 5*time.Second)
		t.Logf("landing %v after the logout", time.Since(start).Round(10*time.Millisecond))
	})
}

// checkCanvasDraws reads the QR canvas's modules and compares them with the
// QR code of text: the canvas draws a real QR code of its data-ref.
func checkCanvasDraws(t *testing.T, b *browser, text string) {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	n := len(want)
	got := b.mustEval(fmt.Sprintf(`(() => { const c = document.querySelector('canvas[aria-label]');
		if (c.closest('[data-ref]').getAttribute('data-ref') !== %q) return 'stale';
		const n = %d, m = Math.floor(c.width / n), off = Math.floor((c.width - m * n) / 2);
		const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const rows = [];
		for (let y = 0; y < n; y++) { let r = ''; for (let x = 0; x < n; x++) {
			const i = ((off + y * m + (m >> 1)) * c.width + off + x * m + (m >> 1)) * 4; r += px[i] < 128 ? '1' : '0'; } rows.push(r); }
		return rows.join('\n'); })()`, text, n))
	if got == "stale" {
		return // the code rotated meanwhile; the next check covers it
	}
	var w []string
	for _, row := range want {
		var s strings.Builder
		for _, dark := range row {
			s.WriteByte("01"[btoi(dark)])
		}
		w = append(w, s.String())
	}
	if !slices.Equal(strings.Split(got, "\n"), w) {
		t.Fatalf("the canvas does not draw the QR code of its data-ref")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBrowserProfileConflictPairing: a profile survives a browser restart
// and a fresh one does not; a pairing code links; two browsers on one
// account give the conflict dialog; HeadlessChrome gets the update page.
func TestBrowserProfileConflictPairing(t *testing.T) {
	fake, base := newFake(t, fastOptions())
	profile := t.TempDir()

	a := startBrowser(t, profile)
	a.nav(base + "/")
	code := a.wait("QR code", qrJS, 10*time.Second)
	if err := fake.Scan(code, phoneA); err != nil {
		t.Fatal(err)
	}
	a.wait("#pane-side", paneSideJS, 5*time.Second)
	a.close()

	a = startBrowser(t, profile)
	t.Run("the profile survives a browser restart", func(t *testing.T) {
		a.t = t
		a.nav(base + "/")
		a.wait("#pane-side", paneSideJS, 10*time.Second)
	})

	b := startBrowser(t, t.TempDir())
	t.Run("a fresh profile is not linked", func(t *testing.T) {
		b.t = t
		b.nav(base + "/")
		b.wait("QR code", qrJS, 10*time.Second)
		if v := b.mustEval(paneSideJS); v != "" {
			t.Fatal("a fresh profile shows #pane-side")
		}
	})

	t.Run("a pairing code links; two browsers on one account conflict", func(t *testing.T) {
		b.t, a.t = t, t
		clickText := func(br *browser, text string) {
			br.wait(text, fmt.Sprintf(`(() => { const x = [...document.querySelectorAll('[role="button"], button')].find(e => e.innerText.trim() === %q); if (!x) return ''; x.id = 'click-me'; return 'yes'; })()`, text), 5*time.Second)
			br.do(chromedp.Click(chromedp.CSS(`#click-me`)))
		}
		const phoneInput = `input[aria-label="Type your phone number."]`
		clickText(b, "Log in with phone number")
		b.wait("phone input", `document.querySelector('`+phoneInput+`') ? 'yes' : ''`, 5*time.Second)
		if shown := fake.QRCodes(); len(shown) != 0 {
			t.Fatalf("QR codes listed while the phone form shows: %+v", shown)
		}
		clickText(b, "Log in with QR code")
		b.wait("QR code again", qrJS, 5*time.Second)
		clickText(b, "Log in with phone number")
		b.wait("phone input", `document.querySelector('`+phoneInput+`') ? 'yes' : ''`, 5*time.Second)
		b.do(chromedp.Focus(chromedp.CSS(phoneInput)), b.insertText("+1 555 000 1111"))
		clickText(b, "Next")
		attr := b.wait("data-link-code", `(() => { const e = document.querySelector('[data-link-code]'); return e && e.querySelectorAll('.cells').length === 2 ? e.getAttribute('data-link-code') : ''; })()`, 5*time.Second)
		pc := strings.ReplaceAll(attr, ",", "")
		if len(pc) != 8 || strings.Trim(pc, "123456789ABCDEFGHJKLMNPQRSTVWXYZ") != "" || attr != strings.Join(strings.Split(pc, ""), ",") {
			t.Fatalf("data-link-code %q", attr)
		}
		if got := fake.PairingCodes(); !slices.Contains(got, fakewa.Pairing{Code: pc, Phone: phoneA}) {
			t.Fatalf("/_fake/pairing = %+v, want %s for %s", got, pc, phoneA)
		}
		if err := fake.Pair(pc[:4] + "-" + pc[4:]); err != nil {
			t.Fatalf("pair: %v", err)
		}
		b.wait("#pane-side after pairing", paneSideJS, 5*time.Second)

		useHere := `(() => { const d = [...document.querySelectorAll('div[role="dialog"]')].find(d => [...d.querySelectorAll('button')].some(x => x.innerText.trim() === 'Use here')); return d && !document.querySelector('#pane-side') ? 'yes' : ''; })()`
		a.wait("conflict dialog in the first browser", useHere, 5*time.Second)
		clickText(a, "Use here")
		a.wait("#pane-side after Use here", paneSideJS, 5*time.Second)
		b.wait("conflict dialog in the second browser", useHere, 5*time.Second)
	})

	t.Run("a HeadlessChrome user agent gets the update page", func(t *testing.T) {
		tab := b.tab(t)
		headless := strings.Replace(desktopUA, "Chrome/", "HeadlessChrome/", 1)
		tab.do(chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: headless})
			return err
		}))
		tab.nav(base + "/")
		v := tab.wait("page text", `document.body ? document.body.innerText : ''`, 5*time.Second)
		if !strings.Contains(v, "update Chrome") || !strings.Contains(v, "Google Chrome") {
			t.Fatalf("page text %q", v)
		}
		if x := tab.mustEval(`document.querySelector('#app, [data-ref], #pane-side') ? 'app' : ''`); x != "" {
			t.Fatal("the app is shown to HeadlessChrome")
		}
	})
}
